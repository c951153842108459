"""The autoscaler on the local target: a real swarm, real nodes, the real hub.

The stack is re-deployed with reservations that fit K=2 servers on a node
(each node offers this machine's memory) and a short cooldown, then put back.
"""

from __future__ import annotations

import time

import docker
import pytest
import yaml

from swarmhub.config import load_config
from swarmhub.hub.labels import INSTANCE_ID
from swarmhub.local import nodes
from tests.integration.stack import Stack, cli

pytestmark = pytest.mark.integration


def _workers(client) -> dict[str, dict]:
    return {
        n.attrs["ID"]: n.attrs for n in client.nodes.list() if n.attrs["Spec"]["Role"] == "worker"
    }


def _node_of(client, user: str) -> str:
    service = client.services.get(f"jupyter-{user}")
    tasks = [t for t in service.tasks() if t["Status"]["State"] == "running"]
    assert len(tasks) == 1, tasks
    return tasks[0]["NodeID"]


def _wait(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def scaling_stack(stack: Stack, tmp_path):
    host_mem = docker.from_env().info()["MemTotal"]
    per_server = host_mem * 2 // 5  # two fit on a node, a third does not
    config = yaml.safe_load(stack.config.read_text())
    config["servers"] = {
        "mem_reservation": per_server,
        "mem_limit": per_server,
        "cpu_reservation": 0.1,
    }
    config["autoscaler"] = {
        "enabled": True,
        "min_nodes": 1,
        "max_nodes": 3,
        "headroom_slots": 0,
        "scale_in_cooldown": 15,
        "scale_out_cooldown": 0,
        "node_boot_seconds": 15,
        "poll_interval": 3,
    }
    path = tmp_path / "scaling.yaml"
    path.write_text(yaml.safe_dump(config))
    cli("deploy", config=path)
    scaled = Stack(path, stack.state_dir, stack.homes_dir, stack.port)
    _wait(lambda: _healthy(scaled), 90, "the hub after re-deploy")
    yield scaled
    for user in ("pack1", "pack2", "pack3", "victim"):
        scaled.api("DELETE", f"/users/{user}/server")
    cli("deploy", config=stack.config)
    _wait(lambda: _healthy(stack), 90, "the hub after restoring the config")


def _healthy(stack: Stack) -> bool:
    try:
        return stack.api("GET", "/").status_code == 200
    except Exception:
        return False


def test_scale_out_packs_and_scale_in_spares_busy_nodes(scaling_stack: Stack):
    stack = scaling_stack
    client = docker.from_env()
    cfg = load_config(stack.config)
    assert len(nodes.list_nodes(cfg)) == 1
    for user in ("pack1", "pack2", "pack3"):
        stack.ensure_user(user)

    # Two servers fill the one node, and packing puts them together.
    stack.start("pack1")
    stack.start("pack2")
    first = _node_of(client, "pack1")
    assert _node_of(client, "pack2") == first

    # The third fits nowhere: it waits, a node joins, and it starts there
    # without anyone doing anything.
    t0 = time.monotonic()
    stack.start("pack3", timeout=150)
    third = _node_of(client, "pack3")
    assert third != first
    assert len(_workers(client)) == 2
    print(f"scale-out: pending server ran on a new node after {time.monotonic() - t0:.1f}s")

    # The new node's only user leaves: after the cooldown that node goes.
    stack.stop("pack3")
    _wait(lambda: third not in _workers(client), 90, "the emptied node to be removed")
    # pack2 leaves too, but pack1 still works on the first node: it stays.
    stack.stop("pack2")
    time.sleep(25)  # longer than the cooldown plus a poll
    assert first in _workers(client)
    assert stack.server("pack1").get("ready") is True
    assert _node_of(client, "pack1") == first
    stack.stop("pack1")


def test_a_dead_node_is_noticed_cleaned_out_and_its_user_starts_elsewhere(
    scaling_stack: Stack,
):
    stack = scaling_stack
    client = docker.from_env()
    cfg = load_config(stack.config)
    user = "victim"
    stack.ensure_user(user)
    stack.start(user)
    token = stack.user_token(user)
    stack.put_text(user, token, "essay.txt", "draft 3")
    dead_id = _node_of(client, user)
    instance = _workers(client)[dead_id]["Description"]["Engine"]["Labels"][INSTANCE_ID]
    (dead,) = [n for n in nodes.list_nodes(cfg) if n.instance_id == instance]

    nodes.kill_hard(dead)  # no drain, no leave: the instance is just gone
    t0 = time.monotonic()
    _wait(lambda: not stack.server(user), 90, "the hub to see the server stopped")
    print(f"hub noticed the dead server after {time.monotonic() - t0:.1f}s")

    stack.start(user, timeout=150)
    assert _node_of(client, user) != dead_id
    got = stack.via_proxy(user, "/api/contents/essay.txt", stack.user_token(user))
    assert got.status_code == 200 and got.json()["content"] == "draft 3"
    _wait(lambda: dead_id not in _workers(client), 60, "the dead node to leave the swarm")
    stack.stop(user)
