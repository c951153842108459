"""apply(): a plan carried out against an in-memory pool and swarm."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from swarmhub.autoscaler.apply import Swarm, apply
from swarmhub.autoscaler.model import Plan
from swarmhub.autoscaler.pools.base import NodePool, PoolNode, PoolNodeState


@dataclass
class FakePool:
    nodes: dict[str, PoolNode]
    desired: int
    calls: list[tuple] = field(default_factory=list)

    def list_nodes(self):
        return list(self.nodes.values())

    def get_desired(self):
        return self.desired

    def set_desired(self, n):
        self.calls.append(("set_desired", n))
        self.desired = n

    def _flag(self, node_id, value):
        n = self.nodes[node_id]
        self.nodes[node_id] = PoolNode(n.id, n.swarm_id, n.state, value)

    def protect(self, node_id):
        self.calls.append(("protect", node_id))
        self._flag(node_id, True)

    def unprotect(self, node_id):
        self.calls.append(("unprotect", node_id))
        self._flag(node_id, False)

    def remove(self, node_id):
        self.calls.append(("remove", node_id))
        del self.nodes[node_id]
        self.desired -= 1


@dataclass
class FakeSwarm:
    tasks: dict[str, list[str]]
    availability: dict[str, str] = field(default_factory=dict)
    # A server that lands on a node the moment tasks_on() is first asked about it:
    # the race between decision and pause.
    lands: dict[str, str] = field(default_factory=dict)
    evicted: list[str] = field(default_factory=list)

    def tasks_on(self, node_id):
        if node_id in self.lands and self.availability.get(node_id, "active") == "active":
            self.tasks.setdefault(node_id, []).append(self.lands.pop(node_id))
        return list(self.tasks.get(node_id, []))

    def pause(self, node_id):
        self.availability[node_id] = "pause"

    def drain(self, node_id):
        self.evicted += self.tasks.get(node_id, [])
        self.availability[node_id] = "drain"

    def activate(self, node_id):
        self.availability[node_id] = "active"


def pool_of(*specs, desired=None) -> FakePool:
    """specs: (instance id, swarm id, protected)."""
    nodes = {i: PoolNode(i, s, PoolNodeState.RUNNING, p) for i, s, p in specs}
    return FakePool(nodes, len(nodes) if desired is None else desired)


def test_fakes_satisfy_the_protocols():
    assert isinstance(pool_of(), NodePool)
    assert isinstance(FakeSwarm({}), Swarm)


def test_protect_unprotect_only_what_changes():
    pool = pool_of(("i-a", "a", False), ("i-b", "b", True), ("i-c", "c", True))
    plan = Plan(desired=3, protect=frozenset({"a", "b"}), unprotect=frozenset({"c"}))
    done = apply(plan, pool, FakeSwarm({"a": ["u1"], "b": ["u2"]}))
    assert pool.calls == [("protect", "i-a"), ("unprotect", "i-c")]
    assert (done.protected, done.unprotected, done.desired) == (["a"], ["c"], None)


def test_scale_out_raises_desired():
    pool = pool_of(("i-a", "a", True), desired=1)
    done = apply(Plan(desired=3, protect=frozenset({"a"})), pool, FakeSwarm({"a": ["u"]}))
    assert pool.desired == 3 and done.desired == 3
    assert ("set_desired", 3) in pool.calls


def test_desired_is_never_lowered_by_set_desired():
    pool = pool_of(("i-a", "a", False), ("i-b", "b", False), desired=4)
    apply(Plan(desired=2), pool, FakeSwarm({}))
    assert not [c for c in pool.calls if c[0] == "set_desired"]
    assert pool.desired == 4


def test_drains_and_removes_an_empty_node():
    pool = pool_of(("i-a", "a", True), ("i-b", "b", False))
    swarm = FakeSwarm({"a": ["u1"]})
    done = apply(Plan(desired=1, protect=frozenset({"a"}), drain=("b",)), pool, swarm)
    assert done.removed == ["b"]
    assert swarm.availability["b"] == "drain"
    assert ("remove", "i-b") in pool.calls and "i-b" not in pool.nodes
    assert pool.desired == 1
    assert swarm.evicted == []


def test_never_removes_a_node_a_server_landed_on_after_the_decision():
    pool = pool_of(("i-b", "b", False))
    swarm = FakeSwarm({}, lands={"b": "late-user"})
    done = apply(Plan(desired=0, drain=("b",)), pool, swarm)
    assert done.removed == []
    assert "late-user" in done.kept["b"]
    assert "i-b" in pool.nodes
    assert swarm.availability.get("b", "active") == "active"
    assert swarm.evicted == []


def test_server_landing_between_check_and_pause_calls_removal_off():
    pool = pool_of(("i-b", "b", False))

    class Racy(FakeSwarm):
        asked = 0

        def tasks_on(self, node_id):
            self.asked += 1
            # Empty when first checked; a server is there once the node is paused.
            return [] if self.asked == 1 else ["raced-user"]

    swarm = Racy({})
    done = apply(Plan(desired=0, drain=("b",)), pool, swarm)
    assert done.removed == [] and "i-b" in pool.nodes
    assert swarm.availability["b"] == "active"
    assert swarm.evicted == []


@pytest.mark.parametrize(
    "plan, pool, why",
    [
        pytest.param(
            Plan(desired=1, protect=frozenset({"b"}), drain=("b",)),
            pool_of(("i-b", "b", True)),
            "hosts a user server",
            id="also-protected",
        ),
        pytest.param(
            Plan(desired=1, drain=("ghost",)), pool_of(), "not a node of this pool", id="unknown"
        ),
        pytest.param(
            Plan(desired=0, drain=("b",)),
            FakePool({"i-b": PoolNode("i-b", "b", PoolNodeState.TERMINATING)}, 1),
            "already terminating",
            id="terminating",
        ),
    ],
)
def test_kept_nodes(plan, pool, why):
    done = apply(plan, pool, FakeSwarm({}))
    assert done.kept == {plan.drain[0]: why}
    assert not [c for c in pool.calls if c[0] == "remove"]


def test_node_with_running_task_is_not_even_paused():
    pool = pool_of(("i-b", "b", False))
    swarm = FakeSwarm({"b": ["u9"]})
    done = apply(Plan(desired=0, drain=("b",)), pool, swarm)
    assert done.kept == {"b": "hosts u9"}
    assert "b" not in swarm.availability


def test_apply_twice_changes_nothing_more():
    pool = pool_of(("i-a", "a", False), ("i-b", "b", False), desired=2)
    swarm = FakeSwarm({"a": ["u1"]})
    plan = Plan(desired=3, protect=frozenset({"a"}), drain=())
    apply(plan, pool, swarm)
    calls = list(pool.calls)
    apply(plan, pool, swarm)
    assert pool.calls == calls


def test_record_sets_metrics_and_logs_one_line(caplog):
    """metrics.record(): what the service loop calls after each decision."""
    from swarmhub.autoscaler import metrics
    from swarmhub.autoscaler.decide import decide
    from tests.unit.test_decide import NOW, node, state

    s = state([node("a", 4), node("b", 1)], 9, pending_requests=1)
    plan = decide(s, NOW)
    before = metrics.REGISTRY.get_sample_value(
        "swarmhub_autoscaler_decisions_total", {"action": "scale_out"}
    )
    with caplog.at_level("INFO", logger="swarmhub.autoscaler"):
        line = metrics.record(plan, s)
    value = metrics.REGISTRY.get_sample_value
    assert value("swarmhub_autoscaler_nodes_desired") == plan.desired == 4
    assert value("swarmhub_autoscaler_nodes_ready") == 2
    assert value("swarmhub_autoscaler_nodes_pending") == 1
    assert value("swarmhub_autoscaler_servers_pending") == 9
    assert value("swarmhub_autoscaler_servers_placed") == 5
    assert value("swarmhub_autoscaler_free_slots") == 3
    after = value("swarmhub_autoscaler_decisions_total", {"action": "scale_out"})
    assert after == before + 1
    assert "\n" not in line and line.endswith(plan.reason)
    assert line.startswith("autoscaler scale_out: desired=4 ready=2 booting=1 pending_servers=9")
    assert [r.getMessage() for r in caplog.records] == [line]


@pytest.mark.parametrize(
    "value, state",
    [
        ("pending", PoolNodeState.PENDING),
        ("running", PoolNodeState.RUNNING),
        ("odd", PoolNodeState.OTHER),
    ],
)
def test_pool_node_state_parse(value, state):
    assert PoolNodeState.parse(value) is state
