"""render and `deploy --plan` on the local target: files only, no root, no engine.

Before, `deploy --plan` hashed the previous deploy's settings.json instead of
rendering the new config (a changed servers.mem_limit showed "keep service"
where a real deploy replaced it), and started the Docker engine first.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from swarmhub.config import parse_config
from swarmhub.local import deploy, engine
from swarmhub.local.render import FILES, Rendered, render
from swarmhub.swarm import secrets, stack


def _cfg(tmp_path, **servers):
    return parse_config(
        {
            "local": {"state_dir": str(tmp_path / "state"), "homes_dir": str(tmp_path / "homes")},
            "servers": servers or {},
        },
        "test.yaml",
    )


@pytest.fixture
def no_engine(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the engine was asked")

    monkeypatch.setattr(engine, "client", refuse)
    monkeypatch.setattr(engine, "ensure_engine", refuse)


def test_render_writes_every_file_and_touches_nothing_else(tmp_path, no_engine):
    cfg = _cfg(tmp_path)
    out = tmp_path / "out"
    written = render(cfg).write(out)
    assert [p.name for p in written] == list(FILES)
    assert not (tmp_path / "state").exists() and not (tmp_path / "homes").exists()
    settings = json.loads((out / "settings.json").read_text())
    assert settings["runtime"]["hub_connect_url"] == "http://10.213.0.1:8081"
    hub = json.loads((out / "service-hub.json").read_text())
    assert [8081, 8081] in hub["ports"]  # servers reach the hub at the manager's address
    # Secrets are named, never included: the spec lists Swarm secret names only.
    assert hub["secrets"] == secrets.hub_secrets(cfg)
    again = Rendered.read(out)
    assert again.hub == hub and again.settings == (out / "settings.json").read_text()


def test_plan_without_root_says_so_and_never_asks_the_engine(tmp_path, no_engine, monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    lines = deploy.plan(_cfg(tmp_path))
    assert lines[0] == "not root: what runs cannot be read"
    assert lines[1].startswith("create service swarmhub-proxy")
    assert lines[-1] == "start 1 worker node(s)"


class _Client:
    """A manager with the proxy and hub services a deploy of `running` made."""

    def __init__(self, running: Rendered):
        self.services = SimpleNamespace(list=lambda filters: self._named(filters["name"]))
        self._specs = {s["name"]: s for s in running.specs}

    def _named(self, name):
        spec = self._specs.get(name)
        if spec is None:
            return []
        labels = {stack.SPEC_HASH: stack.spec_hash(spec)}
        return [SimpleNamespace(name=name, attrs={"Spec": {"Labels": labels}})]


def test_plan_sees_a_changed_memory_limit_as_a_replacement(tmp_path):
    before = render(_cfg(tmp_path, mem_limit="2G"))
    client = _Client(before)
    same = render(_cfg(tmp_path, mem_limit="2G"))
    changed = render(_cfg(tmp_path, mem_limit="3G"))
    assert [stack.service_state(client, s) for s in same.specs] == ["keep", "keep"]
    assert [stack.service_state(client, s) for s in changed.specs] == ["replace", "replace"]
