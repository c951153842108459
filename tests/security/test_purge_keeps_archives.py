"""A careless operator: `archive` at the semester's end, then `destroy --purge`.

After archive has emptied the homes, the store is the only copy of every
student's work; purge must not reach it unless the operator named it, and must
say what it keeps.
"""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from swarmhub.cli import main as cli
from swarmhub.config import parse_config
from swarmhub.errors import SwarmhubError
from swarmhub.local import destroy
from swarmhub.local.paths import MARK, paths


@pytest.fixture
def site(tmp_path):
    homes, state = tmp_path / "homes", tmp_path / "state"
    for root in (homes, state):
        root.mkdir()
        (root / MARK).write_text("made by swarmhub\n")
    (homes / "ada").mkdir()
    (homes / "ada" / "thesis.ipynb").write_bytes(os.urandom(5000))
    config = tmp_path / "swarmhub.yaml"
    config.write_text(f"local:\n  state_dir: {state}\n  homes_dir: {homes}\n")
    cfg = parse_config({"local": {"state_dir": str(state), "homes_dir": str(homes)}}, "t.yaml")
    return config, cfg


def _archives(root) -> list[str]:
    return sorted(p.name for p in root.rglob("*.tar")) if root.is_dir() else []


def test_purge_after_archive_keeps_the_archives_and_says_so(site, capsys):
    config, cfg = site
    result = CliRunner().invoke(
        cli, ["archive", "--config", str(config), "--course", "intro", "--users", "ada"]
    )
    assert result.exit_code == 0, result.output
    p = paths(cfg)
    stored = [r for r in (p.state, p.archives) if _archives(r)]
    assert stored, "archive stored nothing"
    assert destroy.purge_refusal(cfg) is None
    destroy.purge_roots(cfg)
    assert not p.state.exists() and not p.homes.exists()
    assert len(_archives(p.archives)) == 1, "destroy --purge deleted the only copy"
    assert f"archives kept in {p.archives}" in capsys.readouterr().err


def test_archives_left_in_the_old_place_inside_the_state_refuse_the_purge(site):
    _, cfg = site
    p = paths(cfg)
    old = p.state / "archive" / "intro" / "ada"
    old.mkdir(parents=True)
    (old / "20261201.tar").write_bytes(b"x" * 10)
    why = destroy.purge_refusal(cfg)
    assert why is not None and str(p.state / "archive") in why and "\n" not in why
    with pytest.raises(SwarmhubError, match="refusing --purge"):
        destroy.purge_roots(cfg)
    assert (old / "20261201.tar").exists() and (p.homes / "ada").exists()


def test_the_default_store_is_outside_state_and_homes(site):
    _, cfg = site
    p = paths(cfg)
    for root in (p.state, p.homes):
        assert p.archives != root and root not in p.archives.parents
