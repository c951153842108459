"""A node the swarm reports down: no supply at once, lost and terminated after a grace.

Measured before this rule: a worker's engine killed with servers on it left the
autoscaler "steady" for good (desired 3, ready 2, pending 1): the Down node
counted as a node on its way, so a student waiting for room waited 300 s and
got a 503.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from datetime import timedelta

from swarmhub.autoscaler.apply import apply
from swarmhub.autoscaler.decide import decide
from swarmhub.autoscaler.model import Plan
from swarmhub.autoscaler.pools.base import PoolNode, PoolNodeState
from swarmhub.local.nodes import pid_alive
from tests.unit.test_apply import FakeSwarm, pool_of
from tests.unit.test_decide import NOW, cfg, node, state


def down(n, seconds: float):
    return replace(n, ready=False, down_since=NOW - timedelta(seconds=seconds))


def test_a_down_node_is_no_supply_for_a_waiting_server():
    # a: full; b: down a moment ago (its server gone); one student waits.
    s = state([node("a", 4), down(node("b", 0), 5)], unplaced=1, config=cfg(lost_node_seconds=60))
    plan = decide(s, NOW)
    assert plan.action == "scale_out", plan.reason
    assert plan.desired == 3  # b still counts until it is terminated
    assert plan.terminate == ()
    assert "1 node(s) down" in plan.reason


def test_a_node_down_past_the_grace_is_terminated_and_replaced():
    s = state([node("a", 4), down(node("b", 0), 61)], unplaced=1, config=cfg(lost_node_seconds=60))
    plan = decide(s, NOW)
    assert plan.terminate == ("b",)
    assert plan.desired == 2  # a and b's replacement
    assert plan.action == "scale_out"
    assert "terminate lost b" in plan.reason


def test_a_lost_node_with_nobody_waiting_goes_and_is_not_replaced():
    s = state([node("a", 1), down(node("b", 2), 300)], config=cfg(lost_node_seconds=60))
    plan = decide(s, NOW)
    assert plan.terminate == ("b",)
    assert "b" not in plan.protect  # what it hosted is gone already
    assert plan.desired == 1


def test_a_down_node_is_never_drained_nor_counted_as_free_room():
    s = state([down(node("b", 0), 10)], config=cfg(min_nodes=1, lost_node_seconds=60))
    plan = decide(s, NOW)
    assert plan.drain == ()
    assert plan.desired == 2  # the floor of one needs a node that is up


def test_apply_terminates_lost_nodes_before_raising_desired():
    pool = pool_of(("i-a", "a", True), ("i-b", "b", True), desired=2)
    plan = Plan(desired=2, protect=frozenset({"a"}), terminate=("b",))
    done = apply(plan, pool, FakeSwarm({"a": ["u1"]}))
    assert done.terminated == ["b"]
    assert pool.calls.index(("remove", "i-b")) < pool.calls.index(("set_desired", 2))
    assert pool.desired == 2


def test_apply_leaves_a_node_already_terminating():
    pool = pool_of(("i-a", "a", False), desired=1)
    pool.nodes["i-a"] = PoolNode("i-a", "a", PoolNodeState.TERMINATING, False)
    done = apply(Plan(desired=0, terminate=("a",)), pool, FakeSwarm({}))
    assert done.terminated == [] and ("remove", "i-a") not in pool.calls


def test_a_killed_child_is_not_alive_though_it_is_a_zombie(tmp_path):
    # The pool agent starts node engines as its children: one killed stays a
    # zombie until reaped, and kill(pid, 0) succeeds on a zombie.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # noqa: S603
    pidfile = tmp_path / "child.pid"
    pidfile.write_text(str(child.pid))
    assert pid_alive(pidfile)
    os.kill(child.pid, 9)
    for _ in range(100):  # SIGKILL is delivered asynchronously
        if not pid_alive(pidfile):
            break
        time.sleep(0.05)
    assert not pid_alive(pidfile)
    assert not os.path.exists(f"/proc/{child.pid}")  # reaped, not left a zombie


def test_a_node_name_stays_taken_until_its_directory_is_gone(tmp_path):
    """A removal in progress (its data-root renamed away, then deleted) never
    lists as a node, and a directory without node.json yet keeps its name: a
    node started meanwhile must not share a directory with one being removed."""
    from swarmhub.config import parse_config
    from swarmhub.local import nodes
    from swarmhub.local.paths import paths

    cfg = parse_config(
        {"local": {"state_dir": str(tmp_path / "s"), "homes_dir": str(tmp_path / "h")}}, "t"
    )
    root = paths(cfg).nodes
    root.mkdir(parents=True)
    node = nodes._node(cfg, 1)
    (root / "w1").mkdir()
    (root / "w1" / "node.json").write_text(json.dumps(node.__dict__))
    (root / "w2").mkdir()  # a start under way elsewhere
    (root / ".removing-w3-1-2").mkdir()
    (root / ".removing-w3-1-2" / "node.json").write_text(json.dumps(nodes._node(cfg, 3).__dict__))
    assert [n.name for n in nodes.list_nodes(cfg)] == ["w1"]
    assert nodes.next_free(cfg).name == "w3"


def test_the_pool_agent_leaves_a_node_another_process_is_starting(tmp_path, monkeypatch):
    """A node a test or `deploy` starts has its node.json before its dockerd is
    up; the agent took it for a dead node and tore it down mid-start (CI run 7:
    the new node's dockerd.log vanished)."""
    from swarmhub.config import parse_config
    from swarmhub.local import agent, nodes
    from swarmhub.local.paths import paths

    cfg = parse_config(
        {"local": {"state_dir": str(tmp_path / "s"), "homes_dir": str(tmp_path / "h")}}, "t"
    )
    data = paths(cfg).nodes / "w1"
    data.mkdir(parents=True)
    (data / "node.json").write_text(json.dumps(nodes._node(cfg, 1).__dict__))
    (data / nodes.STARTING).write_text(str(os.getpid()))  # this process starts it
    removed = []
    # The one boundary: removing a node drains it in the swarm and deletes its netns.
    monkeypatch.setattr(nodes, "remove", lambda cfg, node, **kw: removed.append(node.name))
    # Engines' run directories are per machine (/run/swarmhub/w1): a stack deployed
    # here meanwhile has a live w1 whose pidfile this test must not read.
    monkeypatch.setattr(nodes, "RUN_DIR", tmp_path / "run")
    pool = agent.Pool(cfg)
    pool.reconcile()
    assert removed == []
    assert [n["state"] for n in pool.list()] == ["pending"]

    gone = subprocess.Popen([sys.executable, "-c", "pass"])  # noqa: S603
    gone.wait(timeout=30)
    (data / nodes.STARTING).write_text(str(gone.pid))  # its starter died mid-start
    pool.reconcile()
    assert removed == ["w1"]
