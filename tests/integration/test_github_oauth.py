"""GitHub sign-in end to end: a real JupyterHub and the real GitHubOAuthenticator,
configured by our hubconfig, against a local fake of GitHub (the one boundary
that cannot be real here). No Docker: the hub runs as a process on loopback
with its own configurable-http-proxy, sqlite database and temporary directory;
no user server is ever started.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
import requests

from swarmhub.config import parse_config
from swarmhub.hub.auth import REFUSED_MESSAGE
from swarmhub.hub.settings import render
from tests.conftest import require_tool
from tests.fixtures.fake_github import FakeGitHub
from tests.helpers import runtime

pytestmark = pytest.mark.integration

CLIENT_ID = "swarmhub-test-client"
CLIENT_SECRET = "the-client-secret-from-the-swarm-secret"  # noqa: S105 - test value
SERVICE_TOKEN = "test-admin-service-token-0123456789"  # noqa: S105 - test value
# Debian's configurable-http-proxy keeps its node modules here; a node that is
# not Debian's (e.g. nodesource) does not look there by itself.
DEBIAN_NODE_PATH = "/usr/share/nodejs"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    require_tool("configurable-http-proxy")
    tmp = tmp_path_factory.mktemp("github-hub")
    port, hub_port, api_port = _free_port(), _free_port(), _free_port()
    public = f"http://127.0.0.1:{port}"
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
    hub_runtime = runtime(
        network="none",
        hub_service="127.0.0.1",
        proxy_service="127.0.0.1",
        notebook_image="unused",
        hub_image="unused",
        homes_host_dir=str(tmp / "homes"),
        public_url=f"{public}/",
    )
    (tmp / "settings.json").write_text(render(config, hub_runtime))
    secrets_dir = tmp / "secrets"
    secrets_dir.mkdir(mode=0o700)
    (secrets_dir / "swarmhub-github-client-secret").write_text(CLIENT_SECRET + "\n")
    (tmp / "jupyterhub_config.py").write_text(
        textwrap.dedent(
            f"""
            # ruff: noqa
            from swarmhub.hub import hubconfig
            from swarmhub.hub.settings import load

            hubconfig._auth(c, load())  # the code under test

            # The test harness: a hub on loopback that never starts a server.
            c.JupyterHub.bind_url = "{public}/"
            c.JupyterHub.hub_ip = "127.0.0.1"
            c.JupyterHub.hub_port = {hub_port}
            c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
            c.JupyterHub.db_url = "sqlite:///{tmp}/jupyterhub.sqlite"
            c.JupyterHub.cookie_secret_file = "{tmp}/cookie_secret"
            c.JupyterHub.spawner_class = "simple"
            c.JupyterHub.services = [{{"name": "test-admin", "api_token": "{SERVICE_TOKEN}"}}]
            c.JupyterHub.load_roles = [
                {{"name": "test-admin", "scopes": ["admin:users", "list:users"],
                  "services": ["test-admin"]}}
            ]
            """
        )
    )
    env = {
        **os.environ,
        "SWARMHUB_SETTINGS": str(tmp / "settings.json"),
        "SWARMHUB_SECRETS_DIR": str(secrets_dir),
        "NODE_PATH": os.pathsep.join(filter(None, [os.environ.get("NODE_PATH"), DEBIAN_NODE_PATH])),
        # The hub talks to the fake over plain HTTP on loopback.
        "NO_PROXY": "127.0.0.1,localhost",
    }
    jupyterhub = shutil.which("jupyterhub") or str(Path(sys.executable).with_name("jupyterhub"))
    log = (tmp / "hub.log").open("w")
    proc = subprocess.Popen(
        [jupyterhub, "-f", str(tmp / "jupyterhub_config.py")],
        cwd=tmp,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"jupyterhub exited:\n{(tmp / 'hub.log').read_text()}")
            try:
                if requests.get(f"{public}/hub/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.3)
        else:
            raise AssertionError(f"jupyterhub did not answer:\n{(tmp / 'hub.log').read_text()}")
        yield public, tmp / "hub.log"
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _sign_in(
    public: str, github: FakeGitHub, login: str
) -> tuple[requests.Session, requests.Response]:
    """The browser's OAuth dance; returns the hub's answer to the OAuth callback."""
    github.signed_in = login
    s = requests.Session()
    r = s.get(f"{public}/hub/oauth_login", allow_redirects=False, timeout=10)
    for _ in range(5):
        assert r.status_code in (301, 302), f"{r.status_code}: {r.text[:500]}"
        target = urljoin(r.url, r.headers["Location"])
        r = s.get(target, allow_redirects=False, timeout=10)
        if urlparse(target).path == "/hub/oauth_callback":
            return s, r
    raise AssertionError("the OAuth dance never reached the hub's callback")


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
