"""The one capacity model: does a server fit a node, and which node it goes to.

The spawner's ledger (swarmhub.hub.placement), the autoscaler's estimate
(swarmhub.autoscaler.decide) and the simulator all call these, so all three
agree on where a server would land. Where a new user server goes: the fullest
node that still fits it.

Swarm's own scheduler spreads tasks over nodes, which leaves every node a
little busy and none empty, so nothing can ever be scaled in without evicting
someone. Packing onto the fullest node that fits keeps the others empty; the
spawner turns the answer into the placement constraint `node.id==<id>`.

"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

# Reserved CPU is a float sum; compare with this slack so 8 x 0.5 fits in 4.0.
CPU_EPSILON = 1e-9


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


class Candidate(Bin, Protocol):
    """A node as the swarm shows it: a Bin that may be down or draining."""

    @property
    def ready(self) -> bool: ...
    @property
    def draining(self) -> bool: ...


def choose_node(nodes: Iterable[Candidate], mem: int, cpu: float) -> str | None:
    """The id of the node a new server reserving `mem` bytes and `cpu` cores
    should go to, or None when no Ready, non-draining node has room (the
    server then waits pending, which is what makes the autoscaler add a node)."""
    chosen = fullest_fit((n for n in nodes if n.ready and not n.draining), mem, cpu)
    return chosen.id if chosen is not None else None
