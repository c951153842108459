"""Losing a worker node, on the local target with the autoscaler on: the node's
engine killed, or its network cut and restored. The hub must report its
servers stopped, the node must leave the swarm and the pool, a student's
restart must get a healthy node in a node's boot, the spawn floor and 10 s,
and no server may run twice (docs/node-loss.md).
"""

from __future__ import annotations

import subprocess
import time

import docker
import pytest

from swarmhub.config import load_config
from swarmhub.local import nodes
from tests.integration.conftest import (
    containers,
    local_node,
    node_of,
    redeployed,
    scaling_config,
)
from tests.integration.stack import Stack, wait_for

pytestmark = pytest.mark.integration


# --- node loss ------------------------------------------------------------------


def _in_swarm(client, swarm_id: str) -> bool:
    return any(n["ID"] == swarm_id for n in client.api.nodes())


def _copies_of(cfg, user: str) -> int:
    """Running containers of the user's server on every engine of this machine."""
    count = 0
    for node in nodes.list_nodes(cfg):
        try:
            engine = docker.DockerClient(base_url=node.docker_host, timeout=10)
            count += len(containers(engine, f"jupyter-{user}"))
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
    victim = node_of(client, user)
    assert victim not in {node_of(client, f) for f in fillers}
    node = local_node(cfg, client, victim)
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
    assert node_of(client, user) != victim
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
