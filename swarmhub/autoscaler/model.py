"""What the autoscaler decides from and what it decides: plain frozen values.

`decide()` sees the world only through a `State` and answers with a `Plan`, so
the service loop, the simulator and the tests feed it the same way. Ids are
*swarm node ids* (what the spawner's placement constraint `node.id==<id>` and
`docker node update` use); the node pool maps them to its own ids (instance
ids) through `PoolNode.swarm_id`.

Units: memory in bytes, CPU in cores (floats), times as aware datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from swarmhub.capacity import CPU_EPSILON
from swarmhub.config.autoscaler import AutoscalerConfig


@dataclass(frozen=True)
class Resources:
    """An amount of reservable memory (bytes) and CPU (cores)."""

    mem: int
    cpu: float

    def __post_init__(self) -> None:
        if self.mem <= 0 or self.cpu <= 0:
            raise ValueError(f"resources must be positive (got mem={self.mem}, cpu={self.cpu})")


def slots_in(mem: int, cpu: float, slot: Resources) -> int:
    """How many user servers of size `slot` fit into free `mem`/`cpu`."""
    if mem < slot.mem or cpu + CPU_EPSILON < slot.cpu:
        return 0
    return int(min(mem // slot.mem, (cpu + CPU_EPSILON) // slot.cpu))


@dataclass(frozen=True)
class Node:
    """A worker that has joined the swarm (booting instances are `State.pending_requests`).

    mem_reserved/cpu_reserved: the sum of reservations of every task the swarm
    has assigned to the node (user servers, pending or running, and any global
    service), i.e. what the swarm scheduler subtracts from the node's total.
    user_servers: user-server tasks on the node, in any non-terminal state.
    empty_since: when user_servers last became 0 (None while it hosts one).
    protected: the pool's scale-in protection flag as last seen.
    draining: swarm availability is drain (or pause): on its way out, not supply.
    down_since: when the swarm first reported the node down (its engine died or
      its network was cut); None while it is up. A down node is never supply.
    """

    id: str
    ready: bool
    mem_total: int
    cpu_total: float
    mem_reserved: int = 0
    cpu_reserved: float = 0.0
    user_servers: int = 0
    empty_since: datetime | None = None
    protected: bool = False
    draining: bool = False
    down_since: datetime | None = None

    @property
    def mem_free(self) -> int:
        return self.mem_total - self.mem_reserved

    @property
    def cpu_free(self) -> float:
        return self.cpu_total - self.cpu_reserved


@dataclass(frozen=True)
class Server:
    """A user server the hub wants running.

    node_id is None while the swarm has not assigned it anywhere (a pending
    service with "no suitable node" is the real scale-out signal); once
    assigned, its reservation is already part of that node's `mem_reserved`.
    """

    user: str
    node_id: str | None
    pending: bool
    mem: int
    cpu: float


@dataclass(frozen=True)
class State:
    """Everything `decide()` needs, gathered by the caller at one instant.

    nodes: the pool's workers that have joined the swarm (never the manager).
    pending_requests: nodes asked of the pool that have not joined yet; compute
      it as pool desired capacity minus joined workers, so a request counts as
      in-flight capacity from the moment it is made.
    last_scale_out: when desired capacity was last raised (None: never).
    node_shape: what one new node offers the swarm.
    slot: the reservation of one user server (for headroom and free slots).
    """

    nodes: tuple[Node, ...]
    servers: tuple[Server, ...]
    pending_requests: int
    last_scale_out: datetime | None
    node_shape: Resources
    slot: Resources
    config: AutoscalerConfig

    def __post_init__(self) -> None:
        if self.pending_requests < 0:
            raise ValueError("pending_requests must not be negative")
        if slots_in(self.node_shape.mem, self.node_shape.cpu, self.slot) < 1:
            raise ValueError("one user server (slot) does not fit on a new node (node_shape)")
        ids = [n.id for n in self.nodes]
        if len(ids) != len(set(ids)):
            raise ValueError("node ids must be unique")


@dataclass(frozen=True)
class Plan:
    """What should happen now.

    desired: the pool size to head for (joined + booting). Only ever *raised*
    through the pool; scale-in happens solely by removing the named `drain`
    nodes, so the pool never picks a victim itself.
    protect: every node hosting a user server (always, so a missed call heals).
    unprotect: protected nodes that host none.
    drain: empty nodes to drain and remove; never one in `protect`.
    terminate: nodes down for `lost_node_seconds`: lost, to be terminated
      (their servers are gone already: the hub reports them stopped).
    reason: one human line.
    """

    desired: int
    protect: frozenset[str] = field(default_factory=frozenset)
    unprotect: frozenset[str] = field(default_factory=frozenset)
    drain: tuple[str, ...] = ()
    terminate: tuple[str, ...] = ()
    reason: str = ""
    # scale_out | scale_in | steady | hold | at_max: the metrics label.
    action: str = "steady"
