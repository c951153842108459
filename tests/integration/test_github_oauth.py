"""GitHub sign-in end to end: a real JupyterHub and the real GitHubOAuthenticator,
configured by our hubconfig, against a local fake of GitHub (the one boundary
that cannot be real here). No Docker: the hub runs as a process on loopback
with its own configurable-http-proxy, sqlite database and temporary directory;
no user server is ever started.
"""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
import requests

from swarmhub.config import parse_config
from swarmhub.hub.auth import REFUSED_MESSAGE
from tests.fixtures.fake_github import FakeGitHub
from tests.integration.github_hub import CLIENT_ID, CLIENT_SECRET, running_hub
from tests.integration.github_hub import sign_in as _sign_in

pytestmark = pytest.mark.integration

SERVICE_TOKEN = "test-admin-service-token-0123456789"  # noqa: S105 - test value


@pytest.fixture(scope="module")
def github():
    fake = FakeGitHub(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        users={"ada": 1, "mallory": 2, "grace": 3, "prof": 4, "linus": 5},
        org_members={"physics-101": {"ada", "prof"}},
        team_members={"cs-dept:tas": {"grace"}},
    ).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def hub(github: FakeGitHub, tmp_path_factory):
    """A JupyterHub process configured through hubconfig._auth from real Settings."""
    config = parse_config(
        {
            "hub": {
                "auth": {
                    "kind": "github",
                    "admin_users": ["prof"],
                    "github": {
                        "client_id": CLIENT_ID,
                        "allowed_organizations": ["physics-101"],
                        "allowed_teams": ["cs-dept:tas"],
                        "allowed_users": ["linus"],
                        "github_url": github.url,
                        "github_api": github.api,
                    },
                }
            }
        },
        "test",
    )
    with running_hub(
        config,
        tmp_path_factory.mktemp("github-hub"),
        under_test="hubconfig._auth(c, load())",
        service_token=SERVICE_TOKEN,
        service_scopes=["admin:users", "list:users"],
    ) as running:
        yield running


def _api(public: str, path: str) -> requests.Response:
    return requests.get(
        f"{public}/hub/api{path}", headers={"Authorization": f"token {SERVICE_TOKEN}"}, timeout=10
    )


def test_org_member_signs_in_and_the_hub_asked_for_read_org(hub, github: FakeGitHub):
    public, _ = hub
    session, r = _sign_in(public, github, "ada")
    assert r.status_code == 302, r.text[:500]
    assert urlparse(r.headers["Location"]).path.startswith("/hub/")
    assert any(c.name.startswith("jupyterhub-session-id") for c in session.cookies) or any(
        c.name == "jupyterhub-hub-login" for c in session.cookies
    )
    # Signed in: the user's own identity through their cookie.
    me = session.get(f"{public}/hub/api/user", timeout=10)
    assert me.status_code == 200, me.text
    assert me.json()["name"] == "ada"
    assert me.json()["admin"] is False
    # Private membership is only visible with read:org, so the hub asked for it.
    scopes = github.authorize_params[-1]["scope"].split()
    assert "read:org" in scopes
    # Membership was asked of GitHub's API, not assumed.
    assert ("GET", "/api/orgs/physics-101/members/ada") in github.requests


def test_non_member_is_refused_with_a_clear_page(hub, github: FakeGitHub):
    public, _ = hub
    _, r = _sign_in(public, github, "mallory")
    assert r.status_code == 403
    assert REFUSED_MESSAGE.split(":")[0] in r.text
    # Checked against the organisation and the team before refusing.
    assert ("GET", "/api/orgs/physics-101/members/mallory") in github.requests
    assert ("GET", "/api/orgs/cs-dept/teams/tas/members/mallory") in github.requests
    assert _api(public, "/users/mallory").status_code == 404


def test_team_member_and_listed_user_sign_in(hub, github: FakeGitHub):
    public, _ = hub
    _, r = _sign_in(public, github, "grace")
    assert r.status_code == 302, r.text[:500]
    _, r = _sign_in(public, github, "linus")
    assert r.status_code == 302, r.text[:500]
    names = {u["name"] for u in _api(public, "/users").json()}
    assert {"grace", "linus"} <= names


def test_admin_user_is_admin(hub, github: FakeGitHub):
    public, _ = hub
    session, r = _sign_in(public, github, "prof")
    assert r.status_code == 302, r.text[:500]
    assert _api(public, "/users/prof").json()["admin"] is True
    assert session.get(f"{public}/hub/api/user", timeout=10).json()["admin"] is True


def test_the_client_secret_is_not_in_the_hub_log_or_settings(hub):
    public, log = hub
    assert CLIENT_SECRET not in log.read_text()
    assert CLIENT_SECRET not in (log.parent / "settings.json").read_text()
