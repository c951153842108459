"""Where a new user server goes: the fullest node that still fits it.

Swarm's own scheduler spreads tasks over nodes, which leaves every node a
little busy and none empty, so nothing can ever be scaled in without evicting
someone. Packing onto the fullest node that fits keeps the others empty; the
spawner turns the answer into the placement constraint `node.id==<id>`.

The same rule places pending servers in `decide()`'s bin-packing estimate and
in the simulator, so all three agree on where a server would land.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

from swarmhub.autoscaler.model import CPU_EPSILON, Node


class Bin(Protocol):
    """Anything with an id, free and reserved resources (a Node, an estimate bin)."""

    id: str

    @property
    def mem_free(self) -> int: ...
    @property
    def cpu_free(self) -> float: ...
    @property
    def mem_reserved(self) -> int: ...
    @property
    def cpu_reserved(self) -> float: ...


B = TypeVar("B", bound=Bin)


def fits(candidate: Bin, mem: int, cpu: float) -> bool:
    return candidate.mem_free >= mem and candidate.cpu_free + CPU_EPSILON >= cpu


def fullest_fit(candidates: Iterable[B], mem: int, cpu: float) -> B | None:
    """The candidate with most reserved memory, then most reserved CPU, then the
    smallest id (so equal nodes give one answer every time), among those that fit."""
    best: B | None = None
    best_key: tuple[int, float, str] | None = None
    for candidate in candidates:
        if not fits(candidate, mem, cpu):
            continue
        key = (-candidate.mem_reserved, -candidate.cpu_reserved, candidate.id)
        if best_key is None or key < best_key:
            best, best_key = candidate, key
    return best


def choose_node(nodes: Iterable[Node], mem: int, cpu: float) -> str | None:
    """The id of the node a new server reserving `mem` bytes and `cpu` cores
    should go to, or None when no Ready, non-draining node has room (the
    server then waits pending, which is what makes the autoscaler add a node)."""
    chosen = fullest_fit((n for n in nodes if n.ready and not n.draining), mem, cpu)
    return chosen.id if chosen is not None else None
