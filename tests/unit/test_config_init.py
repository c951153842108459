"""`pipeline.py init`: a commented config from a few answers, valid as written, never
over an existing file."""

from __future__ import annotations

import itertools

import pytest
from click.testing import CliRunner

from swarmhub import cli
from swarmhub.config import ConfigError, load_config


def _init(tmp_path, *args, input=None):
    path = tmp_path / "swarmhub.yaml"
    result = CliRunner().invoke(cli.main, ["init", "--config", str(path), *args], input=input)
    return path, result


@pytest.mark.parametrize(
    ("target", "sign_in"),
    list(itertools.product(["local", "aws"], ["accounts", "shared-password", "github"])),
)
def test_every_choice_writes_a_file_validate_accepts(tmp_path, target, sign_in):
    args = ["--yes", "--target", target, "--sign-in", sign_in, "--class-size", "80"]
    if sign_in == "github":
        args += ["--admin", "Prof", "--github-org", "physics-101"]
    path, result = _init(tmp_path, *args)
    assert result.exit_code == 0, result.output
    text = path.read_text()
    assert text.startswith("# swarmhub.yaml, written by `python pipeline.py init`")
    if sign_in == "github":
        # Valid but for the client id, which only the operator knows.
        with pytest.raises(ConfigError) as err:
            load_config(path)
        assert [p.field for p in err.value.problems] == ["hub.auth.github.client_id"]
        path.write_text(text.replace("CHANGE-ME", "Iv1.0123456789abcdef"))
    cfg = load_config(path)
    assert cfg.default_target() == target
    assert cfg.hub.auth.kind == sign_in
    if sign_in == "github":
        assert cfg.hub.auth.admin_users == ["prof"]
    if target == "aws":
        # A class of 80 at ~12 servers a node, with a tenth to spare.
        assert cfg.autoscaler.max_nodes == cfg.aws.fleet.max_workers == 8


def test_it_never_overwrites(tmp_path):
    path = tmp_path / "swarmhub.yaml"
    path.write_text("hub: {port: 9000}\n")
    _, result = _init(tmp_path, "--yes")
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"error: {path}: exists already; init never replaces a config (give --config NEW.yaml)"
    )
    assert path.read_text() == "hub: {port: 9000}\n"


def test_questions_when_no_flags(tmp_path):
    path, result = _init(tmp_path, input="local\n40\naccounts\n")
    assert result.exit_code == 0, result.output
    assert "Target" in result.output and "Class size" in result.output
    assert load_config(path).hub.auth.kind == "accounts"


def test_github_needs_its_admins_named(tmp_path):
    path, result = _init(tmp_path, "--yes", "--sign-in", "github")
    assert result.exit_code == 1
    assert "give --admin LOGIN" in result.output
    assert not path.exists()


def test_init_leaves_min_nodes_to_the_calendar_default(tmp_path):
    """init writes no min_nodes, so once the operator adds the class's calendar
    the tuned default (0, windows pre-warm) applies instead of a node idling all week."""
    import yaml

    from swarmhub.config import parse_config
    from swarmhub.init import render

    text = render(target="aws", class_size=60, sign_in="github", region="eu-west-1")
    data = yaml.safe_load(text.replace("CHANGE-ME", "my-org"))
    data["hub"]["auth"]["github"]["client_id"] = "Iv1.0123456789abcdef"
    assert "min_nodes" not in data["autoscaler"]
    data["courses"] = [{"name": "intro", "roster": ["ada"], "start": "2026-09-01",
                        "end": "2099-12-20"}]  # fmt: skip
    assert parse_config(data, "t").autoscaler.min_nodes == 0
