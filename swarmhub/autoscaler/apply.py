"""Carry out a Plan against a node pool and the swarm, never evicting a user.

Order matters, and each step is safe to re-run (the next poll repeats what a
failed one left undone):
1. protect nodes with users first, then unprotect the empty ones;
2. terminate lost nodes (down past `lost_node_seconds`): their servers are
   gone already, and until they go the pool counts them as capacity;
3. raise the pool's desired count if the plan asks for more (never lower it:
   a pool lowering its count picks its own victim);
4. for each node to drain: skip it if a user task is on it; *pause* it (no new
   task lands, nothing running is touched); check again, since a server may
   have landed between the decision and the pause — if one did, make the node
   active again and keep it; only then drain it and remove it from the pool.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from swarmhub.autoscaler.model import Plan
from swarmhub.autoscaler.pools.base import NodePool, PoolNodeState

log = logging.getLogger("swarmhub.autoscaler")


@runtime_checkable
class Swarm(Protocol):
    """The swarm operations `apply()` needs; ids are swarm node ids."""

    def tasks_on(self, node_id: str) -> Sequence[str]:
        """User-server tasks on the node in any non-terminal state (new,
        pending, assigned, ..., running): names, for the log."""
        ...

    def pause(self, node_id: str) -> None:
        """Availability pause: no new tasks, running ones untouched."""
        ...

    def drain(self, node_id: str) -> None:
        """Availability drain (the node is empty: nothing is rescheduled)."""
        ...

    def activate(self, node_id: str) -> None:
        """Availability active again (a removal that was called off)."""
        ...


@dataclass
class Applied:
    """What `apply()` did, for the log and the tests."""

    protected: list[str] = field(default_factory=list)
    unprotected: list[str] = field(default_factory=list)
    desired: int | None = None  # set to this, or None if left alone
    removed: list[str] = field(default_factory=list)
    terminated: list[str] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)  # swarm id -> why not removed


def apply(plan: Plan, pool: NodePool, swarm: Swarm) -> Applied:
    """Carry out `plan`; returns what was done. Pool errors propagate (the
    service logs them and retries on its next poll)."""
    done = Applied()
    by_swarm = {pn.swarm_id: pn for pn in pool.list_nodes() if pn.swarm_id is not None}

    for swarm_id in sorted(plan.protect):
        pn = by_swarm.get(swarm_id)
        if pn is not None and not pn.protected:
            pool.protect(pn.id)
            done.protected.append(swarm_id)
    for swarm_id in sorted(plan.unprotect - plan.protect):
        pn = by_swarm.get(swarm_id)
        if pn is not None and pn.protected:
            pool.unprotect(pn.id)
            done.unprotected.append(swarm_id)

    for swarm_id in plan.terminate:
        pn = by_swarm.get(swarm_id)
        if pn is None or pn.state == PoolNodeState.TERMINATING:
            continue
        log.warning("node %s is lost (down too long): terminating %s", swarm_id, pn.id)
        pool.remove(pn.id)
        done.terminated.append(swarm_id)

    if plan.desired > pool.get_desired():
        pool.set_desired(plan.desired)
        done.desired = plan.desired

    for swarm_id in plan.drain:
        pn = by_swarm.get(swarm_id)
        if swarm_id in plan.protect:
            done.kept[swarm_id] = "hosts a user server"
        elif pn is None:
            done.kept[swarm_id] = "not a node of this pool"
        elif pn.state == PoolNodeState.TERMINATING:
            done.kept[swarm_id] = "already terminating"
        elif tasks := swarm.tasks_on(swarm_id):
            done.kept[swarm_id] = f"hosts {', '.join(tasks)}"
        else:
            swarm.pause(swarm_id)
            if tasks := swarm.tasks_on(swarm_id):
                # Landed after the decision: keep the node, nobody is evicted.
                swarm.activate(swarm_id)
                done.kept[swarm_id] = f"{', '.join(tasks)} landed before the pause"
            else:
                swarm.drain(swarm_id)
                pool.remove(pn.id)
                done.removed.append(swarm_id)
    for swarm_id, why in done.kept.items():
        log.info("not removing node %s: %s", swarm_id, why)
    return done
