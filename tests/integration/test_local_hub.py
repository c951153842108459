"""The whole hub on one machine, driven through its REST API and the proxy."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import docker
import pytest
import requests

from tests.integration.stack import Stack, cli, run_code

pytestmark = pytest.mark.integration


def test_login_spawn_kernel_and_home_survives_restart(stack: Stack):
    user = "ada"
    stack.ensure_user(user)
    session = stack.login(user)
    # A wrong password is refused.
    bad = requests.Session()
    bad.get(f"{stack.url}/hub/login", timeout=30)
    r = bad.post(
        f"{stack.url}/hub/login",
        data={"username": user, "password": "not-the-password", "_xsrf": bad.cookies.get("_xsrf")},
        timeout=30,
        allow_redirects=False,
    )
    assert r.status_code == 403

    # The user starts their own server with their login cookie.
    r = session.post(
        f"{stack.url}/hub/api/users/{user}/server",
        headers={"X-XSRFToken": session.cookies.get("_xsrf"), "Referer": f"{stack.url}/hub/"},
        timeout=30,
    )
    assert r.status_code in (201, 202), r.text
    stack.wait(user, ready=True, timeout=120)

    token = stack.user_token(user)
    status = stack.via_proxy(user, "/api/status", token)
    assert status.status_code == 200, status.text

    kernel = stack.via_proxy(user, "/api/kernels", token, method="POST", json={"name": "python3"})
    assert kernel.status_code == 201, kernel.text
    result = run_code(stack, user, token, kernel.json()["id"], "print(6 * 7)")
    assert result.strip() == "42"

    stack.put_text(user, token, "notes.txt", "kept across restarts")
    on_host = stack.homes_dir / user / "notes.txt"
    assert on_host.read_text() == "kept across restarts"
    assert on_host.stat().st_uid == 1000  # the notebook user, not root

    stack.stop(user)
    assert stack.via_proxy(user, "/api/status", token).status_code != 200
    stack.start(user)
    got = stack.via_proxy(user, "/api/contents/notes.txt", token)
    assert got.status_code == 200, got.text
    assert got.json()["content"] == "kept across restarts"
    stack.stop(user)


def test_servers_survive_a_hub_restart(stack: Stack):
    users = ["grace", "linus"]
    tokens = {}
    for user in users:
        stack.ensure_user(user)
        stack.start(user)
        tokens[user] = stack.user_token(user)
        # A student with an open session: the server has seen (and caches) the token.
        assert stack.via_proxy(user, "/api/status", tokens[user]).status_code == 200

    client = docker.from_env()
    (hub,) = client.containers.list(filters={"label": "com.docker.swarm.service.name=swarmhub-hub"})
    hub.kill()  # SIGKILL: no clean shutdown

    # Routes live in the proxy, so the servers answer even while the hub is down.
    for user in users:
        assert stack.via_proxy(user, "/api/status", tokens[user]).status_code == 200

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if stack.healthy():
            break
        time.sleep(1)
    else:
        raise AssertionError("the hub did not come back")
    new = client.containers.list(filters={"label": "com.docker.swarm.service.name=swarmhub-hub"})
    assert new and new[0].id != hub.id

    for user in users:
        assert stack.server(user).get("ready") is True
        assert stack.via_proxy(user, "/api/status", tokens[user]).status_code == 200
        stack.stop(user)


def test_deploy_twice_changes_nothing(stack: Stack):
    client = docker.from_env()
    before = {s.name: s.attrs["Version"]["Index"] for s in client.services.list()}
    proc = cli("deploy", config=stack.config)
    after = {s.name: s.attrs["Version"]["Index"] for s in client.services.list()}
    assert before == after
    assert "creating" not in proc.stderr and "replacing" not in proc.stderr
    assert "node w2" not in proc.stderr


def test_port_in_use_is_a_clear_error_and_changes_nothing(stack: Stack, tmp_path):
    import socket

    import yaml

    client = docker.from_env()
    before = sorted(s.id for s in client.services.list())
    with socket.socket() as blocker:
        blocker.bind(("0.0.0.0", 0))  # noqa: S104 - the port deploy would publish
        blocker.listen()
        port = blocker.getsockname()[1]
        config = yaml.safe_load(stack.config.read_text())
        config["hub"]["port"] = port
        path = tmp_path / "busy.yaml"
        path.write_text(yaml.safe_dump(config))
        proc = cli("deploy", config=path, check=False)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: port {port} (hub.port) is in use by another program "
        "(stop it, or set hub.port in the config)"
    ]
    assert sorted(s.id for s in client.services.list()) == before


def test_status_reports_hub_nodes_and_users(stack: Stack):
    stack.ensure_user("status-user")
    proc = cli("status", config=stack.config)
    assert "healthy" in proc.stdout
    nodes = [line.split() for line in proc.stdout.splitlines() if "local-w" in line]
    assert nodes and all(n[1] == "ready" for n in nodes), proc.stdout
    assert "status-user" in proc.stdout


def test_deploy_leaves_the_hosts_default_bridge_alone(stack: Stack):
    """A node's or image loader's engine must never touch the host's networking."""
    client = docker.from_env()
    out = client.containers.run("swarmhub/base:" + _base_tag(), ["true"], remove=True)
    assert out == b""  # `docker run` on the default bridge still works
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert " docker0:" in links


def _base_tag() -> str:
    from swarmhub.config import parse_config
    from swarmhub.local import images

    return images.base_hash(parse_config({}, "defaults"))


def test_purge_with_an_unsafe_path_is_refused_before_anything_is_removed(stack: Stack, tmp_path):
    import yaml

    client = docker.from_env()
    before = sorted(s.id for s in client.services.list())
    homes_before = sorted(p.name for p in Path("/home").iterdir())
    for unsafe in ("/home", "/"):
        config = yaml.safe_load(stack.config.read_text())
        config["local"]["homes_dir"] = unsafe
        path = tmp_path / "unsafe.yaml"
        path.write_text(yaml.safe_dump(config))
        proc = cli("destroy", "--purge", "--yes", config=path, check=False)
        assert proc.returncode == 1, proc.stderr
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "homes_dir" in errors[0], proc.stderr
    assert sorted(s.id for s in client.services.list()) == before  # nothing stopped
    assert sorted(p.name for p in Path("/home").iterdir()) == homes_before
    assert stack.healthy()
