"""The node pool interface: what the autoscaler asks of wherever nodes come from.

Two implementations: `aws` (an EC2 Auto Scaling Group) and `local` (extra
dockerd nodes on this machine). A pool knows its own node ids (instance ids)
and, for nodes that have joined, their swarm node id; the autoscaler's plans
speak swarm ids and `apply()` maps between them.

Contract, for both pools:
- `set_desired(n)` only grows or shrinks the *count*; the autoscaler only ever
  raises it, so a pool never chooses a victim by itself.
- `remove(node_id)` terminates that named node and lowers the desired count by
  one. The caller has already drained it in the swarm and checked it is empty.
- `protect`/`unprotect` set scale-in protection (a no-op where the pool never
  removes anything on its own) and are idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable


class PoolNodeState(StrEnum):
    PENDING = "pending"  # requested, booting or joining
    RUNNING = "running"  # up (whether or not it has joined the swarm yet)
    TERMINATING = "terminating"  # on its way out
    OTHER = "other"  # e.g. an ASG instance in Standby or being detached

    @classmethod
    def parse(cls, value: str) -> PoolNodeState:
        """The state named `value`, OTHER for anything unknown. (On Python 3.11
        `value in PoolNodeState` raises TypeError for a plain string.)"""
        try:
            return cls(value)
        except ValueError:
            return cls.OTHER


@dataclass(frozen=True)
class PoolNode:
    id: str  # the pool's id: an EC2 instance id, a local node name
    swarm_id: str | None  # the swarm node id once it has joined
    state: PoolNodeState
    protected: bool = False


@runtime_checkable
class NodePool(Protocol):
    def list_nodes(self) -> list[PoolNode]:
        """Every node of the pool that is not gone yet."""
        ...

    def get_desired(self) -> int:
        """The node count the pool is heading for (joined or not)."""
        ...

    def set_desired(self, n: int) -> None: ...

    def protect(self, node_id: str) -> None: ...

    def unprotect(self, node_id: str) -> None: ...

    def remove(self, node_id: str) -> None:
        """Terminate the named node and lower the desired count by one."""
        ...
