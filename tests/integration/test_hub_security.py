"""The security model on the deployed local stack (see docs/security.md).

Each test states one property a student or an operator relies on and checks it
against the real hub, proxy, swarm and a running user server.
"""

from __future__ import annotations

import json
import textwrap

import docker
import pytest
import requests

from swarmhub.hub.hubconfig import CLI_SCOPES, CULLER_SCOPES
from tests.integration.stack import Stack, run_code

pytestmark = pytest.mark.integration

A, B = "sec-alice", "sec-bob"


@pytest.fixture(scope="module")
def two_servers(stack: Stack):
    for user in (A, B):
        stack.ensure_user(user)
        stack.start(user)
    yield {user: stack.user_token(user) for user in (A, B)}
    for user in (A, B):
        stack.stop(user)


def test_unauthenticated_requests_are_refused(stack: Stack, two_servers):
    for method, path in [
        ("GET", "/hub/api/users"),
        ("GET", "/hub/api/user"),
        ("POST", f"/hub/api/users/{A}/server"),
        ("POST", f"/hub/api/users/{A}/tokens"),
    ]:
        r = requests.request(method, f"{stack.url}{path}", timeout=30)
        assert r.status_code == 403, f"{method} {path}: {r.status_code}"
    # A running server answers no API call without credentials...
    r = requests.get(f"{stack.url}/user/{A}/api/contents", timeout=30, allow_redirects=False)
    assert r.status_code in (302, 401, 403), r.status_code
    # ...and a browser without a cookie ends on the login page, not in the server.
    r = requests.get(f"{stack.url}/user/{A}/lab", timeout=30)
    assert r.url.startswith(f"{stack.url}/hub/login"), r.url


def test_one_users_token_or_cookie_cannot_reach_another_users_server(stack: Stack, two_servers):
    token_a = two_servers[A]
    assert stack.via_proxy(A, "/api/contents", token_a).status_code == 200
    assert stack.via_proxy(B, "/api/contents", token_a).status_code == 403
    assert stack.via_proxy(B, "/api/kernels", token_a, method="POST", json={}).status_code == 403
    # A's browser session: opening A's server runs the OAuth dance and sets the
    # server's own cookie; the same dance for B's server ends in a refusal.
    session = stack.login(A)
    r = session.get(f"{stack.url}/user/{A}/lab", timeout=30)
    assert r.status_code == 200 and r.url.startswith(f"{stack.url}/user/{A}/"), r.url
    assert session.get(f"{stack.url}/user/{A}/api/contents", timeout=30).status_code == 200
    r = session.get(f"{stack.url}/user/{B}/lab", timeout=30)
    assert r.status_code == 403, (r.status_code, r.url)
    r = session.get(f"{stack.url}/user/{B}/api/contents", timeout=30)
    assert r.status_code == 403, (r.status_code, r.url)
    # And A cannot act on B through the hub either.
    r = requests.post(
        f"{stack.url}/hub/api/users/{B}/tokens",
        headers={"Authorization": f"token {token_a}"},
        json={},
        timeout=30,
    )
    assert r.status_code in (403, 404)


def _service_token(service_module: str) -> str | None:
    """The API token the hub gave a managed service, read from its process in the hub."""
    client = docker.from_env()
    (hub,) = client.containers.list(filters={"label": "com.docker.swarm.service.name=swarmhub-hub"})
    code = textwrap.dedent(
        f"""
        import glob
        for d in glob.glob("/proc/[0-9]*"):
            try:
                cmd = open(d + "/cmdline", "rb").read().split(b"\\0")
                if {service_module.encode()!r} in cmd:
                    env = open(d + "/environ", "rb").read().split(b"\\0")
                    for kv in env:
                        if kv.startswith(b"JUPYTERHUB_API_TOKEN="):
                            print(kv.split(b"=", 1)[1].decode())
                            raise SystemExit
            except OSError:
                pass
        """
    )
    result = hub.exec_run(["python3", "-c", code])
    token = result.output.decode().strip()
    return token or None


def _scopes(stack: Stack, token: str) -> set[str]:
    r = requests.get(
        f"{stack.url}/hub/api/user", headers={"Authorization": f"token {token}"}, timeout=30
    )
    assert r.status_code == 200, r.text
    return set(r.json()["scopes"])


def test_service_tokens_hold_only_the_scopes_they_use(stack: Stack):
    culler = _service_token("jupyterhub_idle_culler")
    assert culler, "the idle culler is not running in the hub container"
    scopes = _scopes(stack, culler)
    # The hub reports scopes expanded and filtered to what exists; none beyond the role.
    for scope in scopes:
        base = scope.split("!")[0]
        assert base in set(CULLER_SCOPES) | {
            "read:users:name",
            "read:servers",
            "read:users:activity",
        }
    assert "admin:users" not in scopes and "tokens" not in scopes
    # It can stop servers, but not make users or tokens.
    headers = {"Authorization": f"token {culler}"}
    r = requests.post(f"{stack.url}/hub/api/users/culler-made-me", headers=headers, timeout=30)
    assert r.status_code == 403
    r = requests.post(f"{stack.url}/hub/api/users/{A}/tokens", headers=headers, json={}, timeout=30)
    assert r.status_code in (403, 404)

    autoscaler = _service_token("swarmhub.autoscaler.service")
    if autoscaler:  # only when the stack runs it
        from swarmhub.hub.hubconfig import AUTOSCALER_SCOPES

        for scope in _scopes(stack, autoscaler):
            assert scope.split("!")[0] in set(AUTOSCALER_SCOPES) | {"read:users:name"}

    # The CLI token administers users and servers (admin:users implies their
    # auth state), but not services, groups, roles or the hub itself.
    cli = _scopes(stack, stack.secret("swarmhub-cli-token"))
    assert set(CLI_SCOPES) <= cli
    assert not [s for s in cli if s.split(":")[0] in ("admin-ui", "shutdown", "groups", "roles")]
    assert not [s for s in cli if "services" in s or "groups" in s.split(":")[0]]


PROBE = textwrap.dedent(
    """
    import json, os, socket
    out = {}
    out["docker_sock"] = os.path.exists("/var/run/docker.sock")
    try:
        open("/srv/jupyterhub/jupyterhub.sqlite", "rb").close()
        out["hub_db"] = True
    except OSError:
        out["hub_db"] = False
    out["state_dir"] = os.path.exists("/srv/jupyterhub")
    for host in HOSTS:
        for port in (2375, 2376):
            try:
                socket.create_connection((host, port), timeout=3).close()
                out[f"{host}:{port}"] = True
            except OSError:
                out[f"{host}:{port}"] = False
    import urllib.request, urllib.error
    try:
        urllib.request.urlopen("http://swarmhub-proxy:8001/api/routes", timeout=5)
        out["proxy_api"] = 200
    except urllib.error.HTTPError as e:
        out["proxy_api"] = e.code
    except OSError:
        out["proxy_api"] = "unreachable"
    print(json.dumps(out))
    """
)


def test_a_notebook_cannot_reach_docker_or_the_hub_database(stack: Stack, two_servers):
    from swarmhub.config import load_config
    from swarmhub.local import bridge

    manager = bridge.manager_address(load_config(stack.config))
    hosts = [manager, "swarmhub-hub", "swarmhub-proxy"]
    token = two_servers[A]
    kernel = stack.via_proxy(A, "/api/kernels", token, method="POST", json={"name": "python3"})
    assert kernel.status_code == 201, kernel.text
    code = f"HOSTS = {hosts!r}\n" + PROBE
    out = json.loads(run_code(stack, A, token, kernel.json()["id"], code))
    assert out["docker_sock"] is False
    assert out["hub_db"] is False and out["state_dir"] is False
    for host in hosts:
        for port in (2375, 2376):
            assert out[f"{host}:{port}"] is False, f"{host}:{port} reachable from a notebook"
    # The proxy's API is on the same network (the hub needs it) but wants its token.
    assert out["proxy_api"] in (401, 403, "unreachable")
    stack.via_proxy(A, f"/api/kernels/{kernel.json()['id']}", token, method="DELETE")


def test_only_the_configured_images_and_profiles_can_be_asked_for(stack: Stack):
    user = "sec-carol"
    stack.ensure_user(user)
    for options in ({"image": "busybox:latest"}, {"profile": "no-such-profile"}, {"cmd": "sh"}):
        r = stack.api("POST", f"/users/{user}/server", json=options)
        assert r.status_code == 400, (options, r.status_code, r.text)
        assert "profile" in r.json()["message"]
    assert stack.server(user) == {}


def test_the_proxy_serves_https_with_the_self_signed_certificate(tmp_path):
    """configurable-http-proxy takes our TLS arguments and serves our certificate.

    No stack needed: the proxy runs on loopback with the arguments run.proxy() adds.
    """
    import os
    import socket
    import subprocess
    import time

    from swarmhub.hub import tls
    from tests.conftest import require_tool

    chp = require_tool("configurable-http-proxy")
    _, cert = tls.ensure(tmp_path, ["127.0.0.1", "localhost"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "CONFIGPROXY_AUTH_TOKEN": "t",
        # Debian's proxy keeps its node modules here (see test_github_oauth.py).
        "NODE_PATH": "/usr/share/nodejs",
    }
    args = [
        chp,
        "--ip=127.0.0.1",
        f"--port={port}",
        "--api-ip=127.0.0.1",
        "--api-port=0",
        "--default-target=http://127.0.0.1:9",
        *tls.proxy_args("self-signed", str(tmp_path)),
    ]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                r = requests.get(f"https://127.0.0.1:{port}/", verify=str(cert), timeout=2)
                break
            except requests.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        # The TLS handshake succeeded against our certificate; the target is down.
        assert r.status_code in (502, 503)
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/", timeout=2)
    finally:
        proc.terminate()
        proc.wait(10)


# --- the hub's API port (8081): the nodes only ---------------------------------


def _connects(netns: str, host: str, port: int) -> bool:
    """Whether a TCP connection from inside `netns` to host:port opens within 3 s."""
    import subprocess
    import sys

    probe = (
        "import socket,sys\n"
        f"s=socket.socket(); s.settimeout(3)\n"
        f"sys.exit(0 if s.connect_ex(({host!r},{port}))==0 else 1)\n"
    )
    done = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, "-c", probe], timeout=20, check=False
    )
    return done.returncode == 0


@pytest.fixture
def outside():
    """A client on another network of this host: the internet's stand-in."""
    import subprocess

    ns, host_if, addr = "shsec-outside", "shsec0", "10.250.0.1"

    def sh(*args):
        subprocess.run(list(args), check=True, timeout=20)

    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "addr", "add", f"{addr}/30", "dev", host_if)
        sh("ip", "link", "set", host_if, "up")
        sh("ip", "-n", ns, "addr", "add", "10.250.0.2/30", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        yield ns, addr
    finally:
        subprocess.run(["ip", "link", "del", host_if], check=False, timeout=20)
        subprocess.run(["ip", "netns", "del", ns], check=False, timeout=20)


def test_the_hubs_api_port_answers_the_nodes_and_not_the_outside(stack: Stack, outside):
    from swarmhub.config import load_config
    from swarmhub.local import bridge, nodes
    from swarmhub.swarm.specs import HUB_PORT

    ns, host = outside
    # The public port answers from outside (the probe itself works)...
    assert _connects(ns, host, stack.port)
    # ...the hub's plain-HTTP API does not.
    assert not _connects(ns, host, HUB_PORT), "the hub's API port is open to the outside"
    # A worker node (where servers run) still reaches it at the manager's address.
    cfg = load_config(stack.config)
    (node, *_) = nodes.list_nodes(cfg)
    assert _connects(node.netns, bridge.manager_address(cfg), HUB_PORT)
