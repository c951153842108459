"""The authenticator config hubconfig builds from swarmhub.yaml (no hub, no network)."""

from __future__ import annotations

import pytest
from traitlets.config import Config as TraitletsConfig

from swarmhub.config import parse_config
from swarmhub.errors import SwarmhubError
from swarmhub.hub import auth, hubconfig
from swarmhub.hub.settings import Settings
from tests.helpers import runtime


def _settings(auth_section: dict) -> Settings:
    config = parse_config({"hub": {"auth": auth_section}}, "swarmhub.yaml")
    return Settings(config=config, runtime=runtime(public_url="https://hub.example.org/"))


@pytest.fixture
def secrets_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SWARMHUB_SECRETS_DIR", str(tmp_path))
    return tmp_path


def test_github_with_orgs_and_teams(secrets_dir):
    (secrets_dir / "swarmhub-github-client-secret").write_text("s3cret\n")
    c = TraitletsConfig()
    hubconfig._auth(
        c,
        _settings(
            {
                "kind": "github",
                "admin_users": ["prof"],
                "github": {
                    "client_id": "abc",
                    "allowed_organizations": ["physics-101"],
                    "allowed_teams": ["cs-dept:tas"],
                },
            }
        ),
    )
    g = c.GitHubOAuthenticator
    assert c.JupyterHub.authenticator_class == "github"
    assert g.client_secret == "s3cret"
    assert g.allowed_organizations == {"physics-101", "cs-dept:tas"}
    assert g.scope == ["read:user", "read:org"]
    assert g.oauth_callback_url == "https://hub.example.org/hub/oauth_callback"
    assert c.Authenticator.admin_users == {"prof"}
    assert "allow_all" not in c.Authenticator


def test_github_users_only_asks_for_no_org_scope(secrets_dir):
    (secrets_dir / "swarmhub-github-client-secret").write_text("s3cret")
    c = TraitletsConfig()
    s = _settings(
        {
            "kind": "github",
            "admin_users": ["ada"],
            "github": {"client_id": "abc", "allowed_users": ["ada"]},
        }
    )
    hubconfig._auth(c, s)
    assert c.GitHubOAuthenticator.scope == ["read:user"]


GITHUB = {
    "kind": "github",
    "admin_users": ["prof"],
    "github": {"client_id": "abc", "allowed_organizations": ["physics-101"]},
}


def test_github_without_its_secret_does_not_start(secrets_dir):
    s = _settings(GITHUB)
    with pytest.raises(auth.MissingSecret, match="swarmhub-github-client-secret"):
        hubconfig._auth(TraitletsConfig(), s)


def test_per_user_accounts_are_the_local_default(secrets_dir):
    c = TraitletsConfig()
    hubconfig._auth(c, _settings({}))
    assert c.JupyterHub.authenticator_class == "swarmhub.hub.auth.AccountsAuthenticator"
    assert c.AccountsAuthenticator.accounts_file == "/srv/jupyterhub/accounts.json"
    assert "allow_all" not in c.Authenticator
    assert "SharedPasswordAuthenticator" not in c


def test_shared_password_is_an_explicit_choice(secrets_dir):
    (secrets_dir / "swarmhub-user-password").write_text("class")
    (secrets_dir / "swarmhub-admin-password").write_text("a" * 32)
    c = TraitletsConfig()
    hubconfig._auth(c, _settings({"kind": "shared-password"}))
    assert c.JupyterHub.authenticator_class == "shared-password"
    assert c.SharedPasswordAuthenticator.user_password == "class"


@pytest.mark.parametrize("team", ["cs-dept", "cs-dept:", ":tas", "a:b:c", "org/x:team"])
def test_malformed_team_is_a_config_error(team):
    with pytest.raises(SwarmhubError, match="allowed_teams"):
        _settings({"kind": "github", "github": {"client_id": "x", "allowed_teams": [team]}})


def test_deploy_takes_the_github_secret_from_the_environment(monkeypatch):
    from swarmhub.swarm import secrets

    cfg = parse_config({"hub": {"auth": GITHUB}}, "t")
    monkeypatch.delenv("SWARMHUB_GITHUB_CLIENT_SECRET", raising=False)
    with pytest.raises(SwarmhubError, match="SWARMHUB_GITHUB_CLIENT_SECRET is not set"):
        secrets.supplied(cfg)
    monkeypatch.setenv("SWARMHUB_GITHUB_CLIENT_SECRET", " abc \n")
    assert secrets.supplied(cfg) == {"swarmhub-github-client-secret": "abc"}
    assert "swarmhub-github-client-secret" in secrets.hub_secrets(cfg)
    # The accounts hub neither needs nor mounts it.
    plain = parse_config({}, "t")
    assert secrets.supplied(plain) == {}
    assert "swarmhub-github-client-secret" not in secrets.hub_secrets(plain)


def test_deploy_without_the_github_secret_is_one_error_and_makes_nothing(tmp_path, repo):
    import os
    import subprocess
    import sys

    state = tmp_path / "state"
    config = tmp_path / "swarmhub.yaml"
    config.write_text(
        "hub:\n  auth:\n    kind: github\n    admin_users: [prof]\n"
        "    github: {client_id: abc, allowed_users: [ada]}\n"
        f"local:\n  state_dir: {state}\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "SWARMHUB_GITHUB_CLIENT_SECRET"}
    proc = subprocess.run(
        [sys.executable, str(repo / "pipeline.py"), "deploy", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        cwd=repo,
        timeout=60,
    )
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "SWARMHUB_GITHUB_CLIENT_SECRET is not set" in errors[0]
    assert not state.exists()


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("ada", True),
        ("jane-doe", True),
        ("a.b_c", True),
        ("..", False),
        (".x", False),
        ("a/b", False),
    ],
)
def test_user_names_are_safe_directory_names(name, ok):
    import re

    assert bool(re.match(auth.USERNAME_PATTERN, name)) is ok


# --- per-user accounts: the local default ------------------------------------------------


@pytest.fixture
def fast_scrypt(monkeypatch):
    from swarmhub import accounts

    # The stored parameters travel with each hash; the tests need not pay 32 MiB each.
    monkeypatch.setattr(accounts, "SCRYPT_N", 2**10)
    accounts.dummy_hash.cache_clear()
    yield accounts
    accounts.dummy_hash.cache_clear()


def _authenticator(path):
    return auth.AccountsAuthenticator(accounts_file=str(path))


def _sign_in(authenticator, name, password):
    import asyncio

    data = {"username": name, "password": password}
    return asyncio.run(authenticator.get_authenticated_user(None, data))


def test_a_student_cannot_sign_in_as_another(tmp_path, fast_scrypt):
    path = tmp_path / "accounts.json"
    made, _ = fast_scrypt.add(path, ["alice", "bob"])
    a = _authenticator(path)
    assert _sign_in(a, "alice", made["alice"])["name"] == "alice"
    assert _sign_in(a, "Alice", made["alice"])["name"] == "alice"  # names are lower-cased
    assert _sign_in(a, "bob", made["alice"]) is None
    assert _sign_in(a, "carol", made["alice"]) is None
    assert _sign_in(a, "alice", "") is None
    # Only hashes are stored.
    assert made["alice"] not in path.read_text() and made["bob"] not in path.read_text()
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_the_hub_sees_accounts_added_and_removed_without_a_restart(tmp_path, fast_scrypt):
    import asyncio
    from types import SimpleNamespace

    path = tmp_path / "accounts.json"
    a = _authenticator(path)
    assert _sign_in(a, "alice", "x") is None  # no file yet: nobody
    made, _ = fast_scrypt.add(path, ["alice"])
    assert _sign_in(a, "alice", made["alice"])["name"] == "alice"
    alice = SimpleNamespace(name="alice")
    assert asyncio.run(a.refresh_user(alice)) is True
    # A reset password ends the sessions signed in with the old one.
    fresh, _ = fast_scrypt.add(path, ["alice"], reset=True)
    assert asyncio.run(a.refresh_user(alice)) is False
    assert _sign_in(a, "alice", made["alice"]) is None
    assert _sign_in(a, "alice", fresh["alice"])["name"] == "alice"
    # A removed account can neither sign in nor keep its browser session.
    fast_scrypt.remove(path, ["alice"])
    assert asyncio.run(a.refresh_user(alice)) is False
    assert _sign_in(a, "alice", fresh["alice"]) is None


def test_a_broken_accounts_file_opens_no_door(tmp_path, fast_scrypt):
    path = tmp_path / "accounts.json"
    made, _ = fast_scrypt.add(path, ["alice"])
    a = _authenticator(path)
    assert _sign_in(a, "alice", made["alice"])
    path.write_text('{"users": {"mallory": ')
    assert _sign_in(a, "mallory", "") is None
    assert _sign_in(a, "alice", made["alice"])  # the accounts read before still hold


def test_admins_sign_in_with_their_own_accounts(tmp_path, fast_scrypt):
    path = tmp_path / "accounts.json"
    made = fast_scrypt.ensure_admins(path, ["prof"])
    assert list(made) == ["prof"]
    assert fast_scrypt.ensure_admins(path, ["prof"]) == {}  # made once, never reprinted
    a = auth.AccountsAuthenticator(accounts_file=str(path), admin_users={"prof"})
    assert _sign_in(a, "prof", made["prof"])["admin"] is True


def test_a_hash_is_checked_with_its_own_parameters(fast_scrypt):
    stored = fast_scrypt.hash_password("pw")
    assert stored.startswith("scrypt$1024$8$3$")
    fast_scrypt.SCRYPT_N = 2**11
    assert fast_scrypt.verify_password("pw", stored)
    assert not fast_scrypt.verify_password("pw", "md5$abc")
    assert not fast_scrypt.verify_password("pw", "scrypt$x$8$1$AA==$AA==")
