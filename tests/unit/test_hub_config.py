"""The whole hub config builds from settings, with the culler, profiles and quota wired."""

from __future__ import annotations

from traitlets.config import Config as TraitletsConfig

from swarmhub.config import parse_config
from swarmhub.hub import auth, hubconfig
from swarmhub.hub.settings import Settings
from tests.helpers import runtime


def _configure(tmp_path, monkeypatch, raw: dict) -> TraitletsConfig:
    monkeypatch.setenv("SWARMHUB_SECRETS_DIR", str(tmp_path))
    c = TraitletsConfig()
    hubconfig.configure(c, Settings(config=parse_config(raw, "t"), runtime=runtime()))
    return c


def test_defaults(tmp_path, monkeypatch):
    c = _configure(tmp_path, monkeypatch, {})
    sp = c.SwarmhubSpawner
    assert sp.options_form == ""  # one choice: no form
    # Homes by the real user name, as the spawner and quota see them (not "jane-2ddoe").
    assert sp.volumes == {"/var/lib/swarmhub/homes/{raw_username}": "/home/jovyan"}
    assert c.Authenticator.username_pattern == auth.USERNAME_PATTERN
    assert sp.environment == {"JUPYTERHUB_ACTIVITY_INTERVAL": "300"}
    (culler,) = [s for s in c.JupyterHub.services if s["name"] == "idle-culler"]
    assert "--timeout=3600" in culler["command"] and "--cull-every=600" in culler["command"]
    assert "template_vars" not in c.JupyterHub  # no quota, no notice


def test_short_timeout_profiles_and_quota(tmp_path, monkeypatch):
    c = _configure(
        tmp_path,
        monkeypatch,
        {
            "servers": {
                "idle_timeout": 60,
                "profiles": [
                    {"name": "small", "display_name": "Small"},
                    {"name": "big", "display_name": "Big", "mem_limit": "4G"},
                ],
            },
            "quota": {"soft": "1G", "hard": "2G"},
        },
    )
    sp = c.SwarmhubSpawner
    assert 'value="big"' in sp.options_form
    assert callable(sp.apply_user_options)
    assert sp.environment == {"JUPYTERHUB_ACTIVITY_INTERVAL": "15"}
    (culler,) = [s for s in c.JupyterHub.services if s["name"] == "idle-culler"]
    assert "--cull-every=15" in culler["command"]
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    assert roles["idle-culler"]["scopes"] == hubconfig.CULLER_SCOPES
    assert set(c.JupyterHub.template_vars) == {"announcement_home", "announcement_spawn"}


def test_culling_off(tmp_path, monkeypatch):
    c = _configure(tmp_path, monkeypatch, {"servers": {"idle_timeout": 0}})
    assert not [s for s in c.JupyterHub.services if s["name"] == "idle-culler"]
    assert "environment" not in c.SwarmhubSpawner
