"""The spawner's ledger through its public door: `choose()` then `capacity()`.

The swarm is a fake low-level Docker API (nodes, services, tasks), so the
ledger's own snapshot code runs; nothing private is written.
"""

from __future__ import annotations

from swarmhub.hub.placement import Capacity, Ledger

GiB = 1024**3


def _node(node_id: str, mem: int, cpus: float, role: str = "worker") -> dict:
    return {
        "ID": node_id,
        "Spec": {"Role": role, "Availability": "active"},
        "Description": {
            "Hostname": node_id,
            "Resources": {"MemoryBytes": mem, "NanoCPUs": int(cpus * 1e9)},
            "Engine": {"Labels": {}},
        },
        "Status": {"State": "ready"},
    }


class FakeApi:
    """docker.APIClient's three calls the snapshot makes."""

    def __init__(self, nodes: list[dict]):
        self._nodes = nodes

    def nodes(self):
        return self._nodes

    def services(self, filters=None):
        return []

    def tasks(self, filters=None):
        return []


def test_capacity_after_choose_on_two_workers():
    api = FakeApi(
        [_node("a", 4 * GiB, 2.0), _node("b", 4 * GiB, 2.0), _node("m", 8 * GiB, 4.0, "manager")]
    )
    ledger = Ledger()
    assert ledger.choose(api, "ada", 1 * GiB, 0.5) in {"a", "b"}
    assert ledger.capacity() == Capacity(workers=2, mem=4 * GiB, cpu=2.0)


def test_capacity_follows_a_new_snapshot():
    api = FakeApi([_node("a", 4 * GiB, 2.0)])
    ledger = Ledger(max_age=0.0)
    ledger.choose(api, "ada", 1 * GiB, 0.5)
    assert ledger.capacity().workers == 1
    api._nodes = [_node("a", 4 * GiB, 2.0), _node("b", 16 * GiB, 8.0)]
    ledger.choose(api, "bob", 1 * GiB, 0.5)
    assert ledger.capacity() == Capacity(workers=2, mem=16 * GiB, cpu=8.0)


def test_capacity_with_no_sized_worker_is_empty():
    api = FakeApi([_node("m", 8 * GiB, 4.0, "manager")])
    ledger = Ledger()
    assert ledger.choose(api, "ada", 1 * GiB, 0.5) is None
    assert ledger.capacity() == Capacity(0, 0, 0.0)
