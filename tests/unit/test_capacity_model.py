"""One capacity model: the spawner's ledger places a server where the autoscaler's
model (and so the simulator) says it goes, on any set of nodes.

Before there was one model the spawner broke ties towards the largest node id
and the autoscaler towards the smallest; this test failed on such a pair.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from swarmhub.autoscaler.model import Node
from swarmhub.capacity import choose_node
from swarmhub.hub import placement
from swarmhub.swarm.state import NodeUsage

GiB = 1024**3


def usage(i: int, reserved_gib: int, cpu_tenths: int, state: str, availability: str) -> NodeUsage:
    return NodeUsage(
        id=f"n{i:02d}", hostname=f"w{i}", instance_id=f"i-{i}", role="worker",
        state=state, availability=availability, mem_total=8 * GiB, cpu_total=4.0,
        mem_reserved=reserved_gib * GiB, cpu_reserved=cpu_tenths / 10,
    )  # fmt: skip


def as_model(n: NodeUsage) -> Node:
    """The autoscaler's view of the same node (swarmhub.autoscaler.service.gather)."""
    return Node(
        id=n.id,
        ready=n.state == "ready",
        mem_total=n.mem_total,
        cpu_total=n.cpu_total,
        mem_reserved=n.mem_reserved,
        cpu_reserved=n.cpu_reserved,
        draining=n.availability != "active",
    )


nodes_st = st.lists(
    st.tuples(
        st.integers(0, 8),
        st.integers(0, 40),
        st.sampled_from(["ready", "ready", "down"]),
        st.sampled_from(["active", "active", "drain", "pause"]),
    ),
    max_size=8,
).map(lambda specs: [usage(i, *spec) for i, spec in enumerate(specs)])


@given(nodes=nodes_st, mem_gib=st.integers(1, 9), cpu_tenths=st.integers(1, 20))
def test_the_ledger_chooses_what_the_model_chooses(nodes, mem_gib, cpu_tenths):
    ledger = placement.Ledger()
    snapshot = [replace(n) for n in nodes]
    original = placement.snapshot
    placement.snapshot = lambda api: ([replace(n) for n in snapshot], [])
    try:
        got = ledger.choose(None, "s", mem_gib * GiB, cpu_tenths / 10)
    finally:
        placement.snapshot = original
    want = choose_node([as_model(n) for n in nodes], mem_gib * GiB, cpu_tenths / 10)
    assert got == want


def test_ties_go_to_the_smallest_id_everywhere():
    a, b = usage(1, 2, 5, "ready", "active"), usage(2, 2, 5, "ready", "active")
    ledger = placement.Ledger()
    original = placement.snapshot
    placement.snapshot = lambda api: ([replace(b), replace(a)], [])
    try:
        assert ledger.choose(None, "s", GiB, 0.1) == "n01"
    finally:
        placement.snapshot = original
    assert choose_node([as_model(b), as_model(a)], GiB, 0.1) == "n01"
