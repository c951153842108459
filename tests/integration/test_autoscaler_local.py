"""The autoscaler on the local target: a real swarm, real nodes, the real hub.

The stack is re-deployed with reservations that fit K=2 servers on a node
(each node offers this machine's memory) and a short cooldown, then put back.
"""

from __future__ import annotations

import concurrent.futures as cf
import time

import docker
import pytest

from swarmhub.config import load_config
from swarmhub.local import nodes
from tests.integration.conftest import local_node, node_of
from tests.integration.stack import Stack, wait_for

pytestmark = pytest.mark.integration


def _workers(client) -> dict[str, dict]:
    return {
        n.attrs["ID"]: n.attrs for n in client.nodes.list() if n.attrs["Spec"]["Role"] == "worker"
    }


def test_scale_out_packs_and_scale_in_spares_busy_nodes(scaling_stack: Stack):
    stack = scaling_stack
    client = docker.from_env()
    cfg = load_config(stack.config)
    assert len(nodes.list_nodes(cfg)) == 1
    users = ("pack1", "pack2", "pack3")
    for user in users:
        stack.ensure_user(user)

    # A class arrives at once: three servers where two fit the one node. Two
    # pack together there; the third waits for room (the spawn page says so),
    # a node joins, and it starts there without anyone doing anything.
    t0 = time.monotonic()
    with cf.ThreadPoolExecutor(2 * len(users)) as pool:
        said = {u: pool.submit(stack.progress_messages, u, 150) for u in users}
        took = {u: pool.submit(stack.start, u, timeout=150) for u in users}
        said = {u: f.result() for u, f in said.items()}
        took = {u: round(f.result(), 1) for u, f in took.items()}
    print(f"scale-out: the burst was running after {time.monotonic() - t0:.1f}s ({took})")
    where = {u: node_of(client, u) for u in users}
    by_node: dict[str, list[str]] = {}
    for user, node_id in where.items():
        by_node.setdefault(node_id, []).append(user)
    assert sorted(len(v) for v in by_node.values()) == [1, 2], where  # packed, not spread
    (late,) = next(v for v in by_node.values() if len(v) == 1)
    (first,) = [n for n, v in by_node.items() if len(v) == 2]
    early, other = by_node[first]
    third = where[late]
    assert len(_workers(client)) == 2
    assert any("a new one is starting" in m for m in said[late]), said[late]
    for user in (early, other):
        assert not any("a new one is starting" in m for m in said[user]), said[user]

    # The new node's only user leaves: after the cooldown that node goes.
    stack.stop(late)
    wait_for(lambda: third not in _workers(client), 90, "the emptied node to be removed")
    # Another leaves too, but one still works on the first node: it stays.
    stack.stop(other)
    time.sleep(25)  # longer than the cooldown plus a poll
    assert first in _workers(client)
    assert stack.server(early).get("ready") is True
    assert node_of(client, early) == first
    stack.stop(early)

    # What `report` bills: the autoscaler's record of the fleet went 1 -> 2 -> 1.
    from swarmhub.autoscaler.fleetlog import read_fleet

    counts = [r.workers for r in read_fleet(stack.state_dir / "hub" / "fleet.jsonl")]
    assert [c for i, c in enumerate(counts) if i == 0 or c != counts[i - 1]][-3:] == [1, 2, 1]


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
    dead_id = node_of(client, user)
    dead = local_node(cfg, client, dead_id)

    nodes.kill_hard(dead)  # no drain, no leave: the instance is just gone
    t0 = time.monotonic()
    wait_for(lambda: not stack.server(user), 90, "the hub to see the server stopped")
    print(f"hub noticed the dead server after {time.monotonic() - t0:.1f}s")

    stack.start(user, timeout=150)
    assert node_of(client, user) != dead_id
    got = stack.via_proxy(user, "/api/contents/essay.txt", stack.user_token(user))
    assert got.status_code == 200 and got.json()["content"] == "draft 3"
    wait_for(lambda: dead_id not in _workers(client), 60, "the dead node to leave the swarm")
    stack.stop(user)
