"""What a semester does to a hub, on the local target: each fault, then the check.

Every check after a fault uses credentials the system has never seen before
the fault (a token minted afterwards, a new browser login): a token a server
cached before the fault would hide a broken path from the server to the hub.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import docker
import pytest
import requests
import yaml

from swarmhub.config import load_config
from swarmhub.local import nodes
from swarmhub.swarm.labels import INSTANCE_ID
from tests.integration.conftest import redeployed, scaling_config
from tests.integration.stack import Stack, cli, wait_for

pytestmark = pytest.mark.integration

# How long after a fault running servers may take to serve new credentials.
RECOVERY = 30.0


def _containers(client, service: str) -> list:
    return client.containers.list(filters={"label": f"com.docker.swarm.service.name={service}"})


def _new_credentials_work(stack: Stack, user: str) -> bool:
    """A token minted now and a new browser login both reach the user's server.

    Both make the server ask the hub: it has never seen the token, and the
    login's OAuth dance ends with the server exchanging a code at the hub.
    """
    try:
        token = stack.user_token(user)
        if stack.via_proxy(user, "/api/status", token).status_code != 200:
            return False
        session = stack.login(user)
        # The lab page: no cookie of the server's yet, so the OAuth dance with the hub.
        r = session.get(f"{stack.url}/user/{user}/lab", timeout=10)
        if r.status_code != 200 or not r.url.startswith(f"{stack.url}/user/{user}/"):
            return False
        r = session.get(f"{stack.url}/user/{user}/api/contents", timeout=10)
        return r.status_code == 200 and r.headers.get("Content-Type", "").startswith(
            "application/json"
        )
    except (AssertionError, requests.RequestException):
        return False


def _recovers(stack: Stack, users: list[str], since: float, what: str) -> float:
    """Seconds from `since` until every user's server serves new credentials."""
    for user in users:
        wait_for(
            lambda u=user: _new_credentials_work(stack, u),
            max(1.0, since + RECOVERY - time.monotonic()),
            f"{user}'s server to serve new credentials after {what}",
        )
    took = time.monotonic() - since
    print(f"{what}: servers serve new credentials {took:.1f}s after the fault")
    return took


@pytest.fixture
def two_running(stack: Stack):
    users = ["faultada", "faultbo"]
    for user in users:
        stack.ensure_user(user)
        stack.start(user)
    yield users
    for user in users:
        stack.stop(user, timeout=90)


def test_hub_killed_running_servers_serve_new_credentials(stack: Stack, two_running):
    client = docker.from_env()
    before = {u: stack.server(u)["started"] for u in two_running}
    (hub,) = _containers(client, "swarmhub-hub")
    hub.kill()  # SIGKILL: no clean shutdown
    t0 = time.monotonic()
    wait_for(stack.healthy, 60, "the hub to answer its health check again")
    wait_for(
        lambda: [c for c in _containers(client, "swarmhub-hub") if c.id != hub.id],
        30,
        "a new hub container",
    )
    _recovers(stack, two_running, t0, "hub killed")
    # The same servers, not new ones: nobody was cut off.
    assert {u: stack.server(u)["started"] for u in two_running} == before


def test_hub_replaced_by_deploy_keeps_servers_and_services_going(
    stack: Stack, two_running, tmp_path
):
    client = docker.from_env()
    (hub,) = _containers(client, "swarmhub-hub")
    config = yaml.safe_load(stack.config.read_text())
    config["servers"]["idle_timeout"] = 900  # a change of settings: a new hub
    config["autoscaler"] = {"enabled": True, "min_nodes": 1, "max_nodes": 2, "poll_interval": 3}
    since = time.time()
    t0 = time.monotonic()
    with redeployed(stack, tmp_path / "replaced.yaml", config) as changed:
        assert [c.id for c in _containers(client, "swarmhub-hub")] != [hub.id]
        _recovers(changed, two_running, t0, "hub replaced by deploy")
        # The hub's services carry on: the autoscaler decides, the culler runs.
        logs = wait_for(
            lambda: _hub_logs_with(client, since, "autoscaler] steady"),
            30,
            "an autoscaler decision in the new hub's log",
        )
        assert "Traceback" not in logs
        assert _culler_running(client)


def _hub_logs_with(client, since: float, text: str) -> str:
    service = client.services.get("swarmhub-hub")
    logs = b"".join(service.logs(stdout=True, stderr=True, since=int(since))).decode(
        errors="replace"
    )
    return logs if text in logs else ""


def _culler_running(client) -> bool:
    (hub,) = _containers(client, "swarmhub-hub")
    out = hub.exec_run(["sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"]).output.decode()
    return "jupyterhub_idle_culler" in out


def test_proxy_killed_routes_come_back(stack: Stack, two_running):
    client = docker.from_env()
    (proxy,) = _containers(client, "swarmhub-proxy")
    proxy.kill()
    t0 = time.monotonic()
    wait_for(stack.healthy, 60, "the hub's health check through a new proxy")
    _recovers(stack, two_running, t0, "proxy killed")


# --- node loss ------------------------------------------------------------------


def _node_of(client, user: str) -> str:
    service = client.services.get(f"jupyter-{user}")  # names without "-": not escaped
    (task,) = [t for t in service.tasks() if t["Status"]["State"] == "running"]
    return task["NodeID"]


def _local_node(cfg, client, swarm_id: str):
    instance = client.api.inspect_node(swarm_id)["Description"]["Engine"]["Labels"][INSTANCE_ID]
    (node,) = [n for n in nodes.list_nodes(cfg) if n.instance_id == instance]
    return node


def _in_swarm(client, swarm_id: str) -> bool:
    return any(n["ID"] == swarm_id for n in client.api.nodes())


def _copies_of(cfg, user: str) -> int:
    """Running containers of the user's server on every engine of this machine."""
    count = 0
    for node in nodes.list_nodes(cfg):
        try:
            engine = docker.DockerClient(base_url=node.docker_host, timeout=10)
            count += len(_containers(engine, f"jupyter-{user}"))
        except docker.errors.DockerException:
            continue
    return count


@pytest.fixture(scope="module")
def scaled(stack: Stack, tmp_path_factory):
    path = tmp_path_factory.mktemp("faults") / "scaling.yaml"
    with redeployed(stack, path, scaling_config(stack)) as changed:
        yield changed


def _lose_a_node(scaled: Stack, user: str, fault) -> None:
    """Two students fill the first node; `user` lands on a node the pool boots.
    `fault` strikes that node; the hub must report the server stopped, the node
    must leave the swarm and the pool, and the student's restart must get a
    healthy node within a node's boot, the spawn floor and 10 s."""
    client = docker.from_env()
    cfg = load_config(scaled.config)
    fillers = [f"{user}f1", f"{user}f2"]
    for name in [*fillers, user]:
        scaled.ensure_user(name)
    for name in fillers:
        scaled.start(name, timeout=150)
    t0 = time.monotonic()
    scaled.start(user, timeout=150)
    boot = time.monotonic() - t0  # a scale-out: a node's boot plus a spawn
    victim = _node_of(client, user)
    assert victim not in {_node_of(client, f) for f in fillers}
    node = _local_node(cfg, client, victim)
    token = scaled.user_token(user)
    scaled.put_text(user, token, "essay.txt", "draft 3")

    fault(node)
    t1 = time.monotonic()
    wait_for(lambda: not scaled.server(user), 90, f"the hub to see {user}'s server stopped")
    print(f"hub saw the server stopped {time.monotonic() - t1:.1f}s after the fault")

    t2 = time.monotonic()
    scaled.start(user, timeout=boot + 60)
    restart = time.monotonic() - t2
    print(f"restart on a healthy node took {restart:.1f}s (a scale-out took {boot:.1f}s)")
    assert _node_of(client, user) != victim
    assert restart <= boot + 10, (restart, boot)
    got = scaled.via_proxy(user, "/api/contents/essay.txt", scaled.user_token(user))
    assert got.status_code == 200 and got.json()["content"] == "draft 3"
    wait_for(lambda: not _in_swarm(client, victim), 120, "the lost node to leave the swarm")
    wait_for(
        lambda: node.instance_id not in {n.instance_id for n in nodes.list_nodes(cfg)},
        60,
        "the lost node to leave the pool",
    )
    for name in [*fillers, user]:
        scaled.stop(name)


def test_a_workers_engine_killed_is_replaced(scaled: Stack):
    _lose_a_node(scaled, "faultkill", nodes.kill_hard)


def test_a_worker_cut_off_and_back_never_runs_a_server_twice(scaled: Stack):
    cfg = load_config(scaled.config)
    cut: list = []

    def cut_link(node) -> None:
        subprocess.run(["ip", "link", "set", node.veth, "down"], check=True)
        cut.append(node)

    user = "faultcut"
    _lose_a_node(scaled, user, cut_link)
    (node,) = cut
    # The link comes back (if the pool left anything to come back to).
    subprocess.run(["ip", "link", "set", node.veth, "up"], check=False, capture_output=True)
    scaled.start(user)
    time.sleep(10)  # long enough for a returning node to report in
    assert _copies_of(cfg, user) == 1
    scaled.stop(user)


# --- the manager --------------------------------------------------------------------


def _dockerd_pid() -> int:
    with open("/var/run/docker.pid") as f:
        return int(f.read())


def test_manager_engine_restart_brings_everything_back(stack: Stack, two_running):
    from swarmhub.local import engine

    client = docker.from_env()
    before = {u: stack.server(u)["started"] for u in two_running}
    pid = _dockerd_pid()
    if os.path.isdir("/run/systemd/system"):
        subprocess.run(["systemctl", "restart", "docker"], check=True, timeout=120)
    else:
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 60, "the engine to stop")
        engine.ensure_engine()
    t0 = time.monotonic()
    client = docker.from_env()
    wait_for(stack.healthy, 90, "the hub after the engine restart")
    _recovers(stack, two_running, t0 - 0, "manager engine restarted")
    assert {u: stack.server(u)["started"] for u in two_running} == before
    status = cli("status", config=stack.config).stdout
    for user in two_running:
        assert f"{user}" in status and "running" in status.split(user)[1].splitlines()[0]
    assert "NOT ANSWERING" not in status
    assert client.info()["Swarm"]["LocalNodeState"] == "active"


def _reboot(cfg) -> None:
    """What a reboot does to this machine: every process stops, the engine
    cleanly, and the network namespaces, the bridge and /run are gone."""
    from swarmhub.local import agent, bridge, golden

    agent.stop(cfg)
    for node in nodes.list_nodes(cfg):
        nodes.kill_hard(node)
        subprocess.run(["ip", "netns", "del", node.netns], check=False, capture_output=True)
        subprocess.run(["ip", "link", "del", node.veth], check=False, capture_output=True)
    pid = _dockerd_pid()
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 90, "the engine to stop")
    golden.umount_below(golden.RUN_DIR)
    subprocess.run(["rm", "-rf", str(golden.RUN_DIR)], check=True)
    bridge.remove_bridge()


def test_host_reboot_brings_everything_back_without_deploy(stack: Stack):
    from swarmhub.local import agent, paths
    from swarmhub.run import start_daemon

    if os.path.isdir("/run/systemd/system"):
        pytest.skip("a real reboot is the test where systemd runs the boot unit")
    cfg = load_config(stack.config)
    client = docker.from_env()
    workers = sorted(n["ID"] for n in client.api.nodes() if n["Spec"]["Role"] == "worker")
    _reboot(cfg)
    # What the boot unit runs (swarmhub.local.boot): the bridge, then the agent,
    # which starts the engine and the nodes again.
    settings = paths.paths(cfg).hub_state / "settings.json"
    subprocess.run(
        [sys.executable, "-m", "swarmhub.local.bridge", "--settings", str(settings)], check=True
    )
    start_daemon(
        [sys.executable, "-m", "swarmhub.local.agent", "--settings", str(settings)],
        log=paths.paths(cfg).agent_log,
    )
    t0 = time.monotonic()
    wait_for(stack.healthy, 180, "the hub after the reboot")
    client = docker.from_env()

    def same_workers_ready() -> bool:
        ready = sorted(
            n["ID"]
            for n in client.api.nodes()
            if n["Spec"]["Role"] == "worker" and n["Status"]["State"] == "ready"
        )
        return ready == workers

    wait_for(same_workers_ready, 120, "the same worker nodes Ready again")
    print(f"reboot: hub and nodes back {time.monotonic() - t0:.1f}s after the boot began")
    assert agent.running(cfg)
    user = "faultboot"
    stack.ensure_user(user)
    stack.start(user, timeout=120)
    assert _new_credentials_work(stack, user)
    status = cli("status", config=stack.config).stdout
    assert "healthy" in status and " down " not in status
    stack.stop(user)
