"""The autoscaler service's gather step: what the swarm and the pool say, as a State.

The Docker API and the pool are replaced at their boundary by what a manager
and the pool agent answer; decide() then runs for real on the result.
"""

from __future__ import annotations

from datetime import UTC, datetime

from swarmhub.autoscaler.decide import decide
from swarmhub.autoscaler.pools.base import PoolNode, PoolNodeState
from swarmhub.autoscaler.service import Memory, gather
from swarmhub.config import parse_config
from swarmhub.hub.settings import Settings
from swarmhub.swarm import labels
from tests.helpers import runtime

GiB = 1024**3
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _node(node_id: str, state: str, mem: int, role: str = "worker") -> dict:
    resources = {"MemoryBytes": mem, "NanoCPUs": 2_000_000_000} if mem else {}
    return {
        "ID": node_id,
        "Spec": {"Role": role, "Availability": "active"},
        "Description": {"Hostname": node_id, "Resources": resources, "Engine": {"Labels": {}}},
        "Status": {"State": state},
    }


class _Manager:
    """A manager's low-level API answers: nodes, user-server services, their tasks."""

    def __init__(self, nodes: list[dict], placed: dict[str, str | None]):
        self._nodes = nodes
        self._services = [
            {"ID": f"svc-{u}", "Spec": {"Name": f"jupyter-{u}", "Labels": {labels.USER: u}}}
            for u in placed
        ]
        self._tasks = [
            {
                "ServiceID": f"svc-{u}",
                "NodeID": node or "",
                "Status": {"State": "running" if node else "pending"},
                "Spec": {"Resources": {"Reservations": {"MemoryBytes": 4 * GiB}}},
            }
            for u, node in placed.items()
        ]

    def nodes(self):
        return self._nodes

    def services(self, filters=None):
        return self._services

    def tasks(self, filters=None):
        return self._tasks

    def info(self):
        return {"MemTotal": 8 * GiB, "NCPU": 2}


class _Pool:
    def __init__(self, desired: int, members: list[str]):
        self.desired = desired
        self.members = members

    def list_nodes(self):
        return [PoolNode(f"i-{m}", m, PoolNodeState.RUNNING) for m in self.members]

    def get_desired(self):
        return self.desired


def _settings(**servers) -> Settings:
    config = parse_config(
        {
            "servers": {
                "mem_reservation": 4 * GiB,
                "mem_limit": 4 * GiB,
                "cpu_reservation": 0.1,
                **servers,
            },
            "autoscaler": {"enabled": True, "min_nodes": 1, "max_nodes": 4, "headroom_slots": 0},
        },
        "test.yaml",
    )
    return Settings(config, runtime())


def test_a_node_that_joined_but_has_not_reported_its_size_is_supply_on_its_way():
    # n1 is full (two 4 GiB servers on 8 GiB); a third waits; the scale-out's
    # node n2 has joined this instant and reports no resources yet.
    api = _Manager(
        [_node("m", "ready", 8 * GiB, role="manager"), _node("n1", "ready", 8 * GiB),
         _node("n2", "ready", 0)],
        {"a": "n1", "b": "n1", "c": None},
    )  # fmt: skip
    state = gather(_settings(), api, _Pool(2, ["n1", "n2"]), Memory(), {}, NOW)
    (joining,) = [n for n in state.nodes if n.id == "n2"]
    assert not joining.ready and joining.mem_total == 8 * GiB
    plan = decide(state, NOW)
    assert plan.desired == 2, plan.reason  # no second scale-out for the same server
    assert plan.action == "steady" and "wait for booting nodes" in plan.reason


def test_a_full_node_and_a_waiting_server_ask_for_one_more_node():
    api = _Manager([_node("n1", "ready", 8 * GiB)], {"a": "n1", "b": "n1", "c": None})
    state = gather(_settings(), api, _Pool(1, ["n1"]), Memory(), {}, NOW)
    plan = decide(state, NOW)
    assert plan.desired == 2 and plan.action == "scale_out", plan.reason
    assert plan.protect == frozenset({"n1"})


def test_a_server_the_hub_is_still_starting_counts_as_demand():
    # The spawner waits for room before it creates a service: only the hub knows.
    api = _Manager([_node("n1", "ready", 8 * GiB)], {"a": "n1", "b": "n1"})
    state = gather(_settings(), api, _Pool(1, ["n1"]), Memory(), {"c": {}}, NOW)
    assert [s.user for s in state.servers if s.pending] == ["c"]
    assert decide(state, NOW).desired == 2


def test_a_waiting_server_counts_at_the_size_of_the_profile_it_asked_for():
    # n1 has 4 GiB free: a default server fits, the "large" profile (6 GiB) does not.
    settings = _settings(
        profiles=[{"name": "large", "display_name": "Large", "mem_limit": 6 * GiB,
                   "mem_reservation": 6 * GiB}],
    )  # fmt: skip
    api = _Manager([_node("n1", "ready", 8 * GiB)], {"a": "n1"})
    pool = _Pool(1, ["n1"])
    small = gather(settings, api, pool, Memory(), {"c": {"profile": "default"}}, NOW)
    assert decide(small, NOW).desired == 1
    large = gather(settings, api, pool, Memory(), {"c": {"profile": "large"}}, NOW)
    (waiting,) = [s for s in large.servers if s.pending]
    assert waiting.mem == 6 * GiB
    assert decide(large, NOW).desired == 2
    # An option the hub will refuse counts as a default server meanwhile.
    odd = gather(settings, api, pool, Memory(), {"c": {"profile": "huge"}}, NOW)
    assert [s.mem for s in odd.servers if s.pending] == [4 * GiB]


def test_a_student_starting_during_their_exam_counts_at_the_limit():
    from swarmhub.autoscaler.service import Starting

    config = parse_config(
        {
            "servers": {"mem_reservation": 2 * GiB, "mem_limit": 6 * GiB,
                        "cpu_reservation": 0.1, "cpu_limit": 1.0},
            "autoscaler": {"enabled": True, "min_nodes": 1, "max_nodes": 4, "headroom_slots": 0},
            "courses": [
                {"name": "stats", "roster": ["c", "d"], "start": "2026-09-01",
                 "end": "2026-12-20",
                 "windows": [{"kind": "exam", "days": ["wed"], "start": "11:00",
                              "end": "13:00", "min_nodes": 1}]},
            ],
        },
        "test.yaml",
    )  # fmt: skip
    settings = Settings(config, runtime())
    api = _Manager([_node("n1", "ready", 8 * GiB)], {})
    starting = Starting({"c": {}, "e": {}}, groups={"c": ["course-stats"], "e": []})
    state = gather(settings, api, _Pool(1, ["n1"]), Memory(), starting, NOW)
    sizes = {s.user: (s.mem, s.cpu) for s in state.servers if s.pending}
    assert sizes == {"c": (6 * GiB, 1.0), "e": (2 * GiB, 0.1)}
    # An hour later the exam is over: the profile's reservation again.
    later = gather(settings, api, _Pool(1, ["n1"]), Memory(), starting, NOW.replace(hour=14))
    assert {s.user: s.mem for s in later.servers if s.pending}["c"] == 2 * GiB
