"""choose_node(): the fullest Ready, non-draining node that still fits."""

from __future__ import annotations

from dataclasses import replace

import pytest

from swarmhub.capacity import choose_node
from tests.unit.test_decide import SLOT, node

GIB = 1024**3

# (nodes, expected id)
CASES = [
    pytest.param([], None, id="no-nodes"),
    pytest.param([node("a", 1), node("b", 3), node("c", 2)], "b", id="fullest-wins"),
    pytest.param([node("a", 1), node("b", 4)], "a", id="full-node-skipped"),
    pytest.param([node("a", 4), node("b", 4)], None, id="nothing-fits"),
    pytest.param([node("z", 2), node("a", 2), node("m", 2)], "a", id="tie-smallest-id"),
    pytest.param(
        [node("a", 2), replace(node("b", 2), cpu_reserved=1.5)], "b", id="tie-on-mem-most-cpu"
    ),
    pytest.param([node("a", 1), node("b", 3, ready=False)], "a", id="not-ready-skipped"),
    pytest.param([node("a", 1), node("b", 3, draining=True)], "a", id="draining-skipped"),
    pytest.param(
        [node("a", 1), replace(node("b", 1), cpu_reserved=3.8)], "a", id="cpu-must-fit-too"
    ),
]


@pytest.mark.parametrize("nodes, expected", CASES)
def test_choose_node(nodes, expected):
    assert choose_node(nodes, SLOT.mem, SLOT.cpu) == expected


def test_exact_fit_with_float_cpu_sums():
    # 7 x 0.5 reserved as a float sum still leaves room for one more 0.5 on 4 cores.
    n = replace(node("a", 0), mem_reserved=0, cpu_reserved=sum([0.5] * 7))
    assert choose_node([n], GIB, 0.5) == "a"
    n = replace(n, cpu_reserved=sum([0.1] * 35))  # 3.5000000000000013
    assert choose_node([n], GIB, 0.5) == "a"


def test_packing_keeps_other_nodes_empty():
    """Placing servers one by one fills one node before touching the next."""
    nodes = {i: node(i) for i in ("a", "b", "c")}
    for _ in range(5):
        chosen = choose_node(nodes.values(), SLOT.mem, SLOT.cpu)
        n = nodes[chosen]
        nodes[chosen] = replace(
            n, mem_reserved=n.mem_reserved + SLOT.mem, cpu_reserved=n.cpu_reserved + SLOT.cpu
        )
    assert [nodes[i].mem_reserved // SLOT.mem for i in ("a", "b", "c")] == [4, 1, 0]
