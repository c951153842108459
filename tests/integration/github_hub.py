"""The harness of the GitHub sign-in tests: a real JupyterHub process on
loopback, configured by our hubconfig from real Settings, with its own
configurable-http-proxy and sqlite database, against tests/fixtures/fake_github
(the one boundary that cannot be real here). No Docker; no user server is
ever started.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from urllib.parse import urljoin, urlparse

import requests

from swarmhub.hub.settings import render
from tests.conftest import require_tool
from tests.fixtures.fake_github import FakeGitHub
from tests.helpers import runtime

CLIENT_ID = "swarmhub-test-client"
CLIENT_SECRET = "the-client-secret-from-the-swarm-secret"  # noqa: S105 - test value
# Debian's configurable-http-proxy keeps its node modules here; a node that is
# not Debian's (e.g. nodesource) does not look there by itself.
DEBIAN_NODE_PATH = "/usr/share/nodejs"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_hub(
    config,
    tmp: Path,
    *,
    under_test: str,
    service_token: str,
    service_scopes: list[str],
    secrets: dict[str, str] | None = None,
):
    """A JupyterHub process whose config runs `under_test` (hubconfig calls, with
    `c` and `load()` in scope), plus a service `test-admin` holding
    `service_scopes` with `service_token`. Yields (public URL, log path)."""
    require_tool("configurable-http-proxy")
    port, hub_port, api_port = free_port(), free_port(), free_port()
    public = f"http://127.0.0.1:{port}"
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
    for name, value in {"swarmhub-github-client-secret": CLIENT_SECRET, **(secrets or {})}.items():
        (secrets_dir / name).write_text(value + "\n")
    (tmp / "jupyterhub_config.py").write_text(
        "# ruff: noqa\n"
        "from swarmhub.hub import hubconfig\n"
        "from swarmhub.hub.settings import load\n\n"
        "# The code under test.\n"
        + textwrap.dedent(under_test).strip()
        + textwrap.dedent(
            f"""

            # The test harness: a hub on loopback that never starts a server.
            c.JupyterHub.bind_url = "{public}/"
            c.JupyterHub.hub_ip = "127.0.0.1"
            c.JupyterHub.hub_port = {hub_port}
            c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
            c.JupyterHub.db_url = "sqlite:///{tmp}/jupyterhub.sqlite"
            c.JupyterHub.cookie_secret_file = "{tmp}/cookie_secret"
            c.JupyterHub.spawner_class = "simple"
            c.JupyterHub.services.append({{"name": "test-admin", "api_token": "{service_token}"}})
            c.JupyterHub.load_roles.append(
                {{"name": "test-admin", "scopes": {service_scopes!r}, "services": ["test-admin"]}}
            )
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


def sign_in(
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
