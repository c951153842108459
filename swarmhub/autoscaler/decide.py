"""The autoscaler's decision: `decide(state, now) -> Plan`, a pure function.

Demand is user servers (running, and pending ones the swarm could not place)
and their reservations; supply is the free reservable memory/CPU of Ready
workers plus nodes already booting. Not CPU utilisation: a notebook holds its
memory while its student reads, so CPU says nothing about who is waiting.

In order:
1. Pack the unplaced servers (fullest node that fits, as the spawner will):
   onto Ready nodes, then onto booting ones, then onto new nodes of
   `node_shape`; the new ones are the scale-out for servers.
2. Keep `headroom_slots` free slots warm while anyone has a server (held
   back during the scale-out cooldown: it is a wish, not a waiting student).
3. Never below `min_nodes` or the schedule floor (in effect `node_boot_seconds`
   + `early_seconds` before a window starts), never above `max_nodes`.
4. Only if nothing is added: drain empty nodes that have been empty for
   `scale_in_cooldown`, longest-empty first, while floor and headroom still hold.
A node hosting a user server is always protected and never drained.

A node the swarm reports down is no supply from the first moment (nothing can
start there); after `lost_node_seconds` it is lost and goes into `terminate`,
which also takes it out of the count, so demand replaces it.

The clock is injected: production passes `utcnow()`, the simulator its own time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from swarmhub.autoscaler.model import Plan, Resources, Server, State, slots_in
from swarmhub.capacity import fits, fullest_fit
from swarmhub.courses import calendar as schedule

_GIB = 1024**3


def utcnow() -> datetime:
    """The current time, aware. Only a standalone function so tests can mock it."""
    return datetime.now(UTC)


@dataclass
class _Bin:
    """A node's free room during the estimate (mutable, unlike Node)."""

    id: str
    mem_free: int
    cpu_free: float
    mem_reserved: int
    cpu_reserved: float
    used: bool = False  # the estimate put a pending server here

    def put_one(self, mem: int, cpu: float) -> None:
        self.mem_free -= mem
        self.cpu_free -= cpu
        self.mem_reserved += mem
        self.cpu_reserved += cpu
        self.used = True

    def slots(self, slot: Resources) -> int:
        return slots_in(self.mem_free, self.cpu_free, slot)


class _Search:
    """fullest_fit() over a list of bins, for many servers in a row.

    During the estimate bins only lose room (the list may grow), so a bin that
    cannot take a size now never can later: per size, only the bins that still
    could are searched again. fullest_fit() ignores bins that do not fit and
    its answer does not depend on their order, so it is the answer over the
    whole list; a burst of one size is then linear, not servers x nodes."""

    def __init__(self, bins: list[_Bin]):
        self.bins = bins
        self._could: dict[tuple[int, float], tuple[int, list[_Bin] | tuple]] = {}

    def fullest(self, mem: int, cpu: float) -> _Bin | None:
        size, total = (mem, cpu), len(self.bins)
        seen, could = self._could.get(size, (0, ()))
        if not could and seen == total:
            return None  # the usual case in a burst: nothing has room for it
        could = [b for b in (*could, *self.bins[seen:]) if fits(b, mem, cpu)]
        self._could[size] = (total, could)
        return fullest_fit(could, mem, cpu)


def _fill(search: _Search, mem: int, cpu: float, left: int) -> int:
    """Put up to `left` servers of mem/cpu, each on the fullest bin that fits;
    returns how many found no room. The bin a server goes to stays the fullest
    that fits while it still fits, so it is filled before the next is chosen."""
    while left:
        target = search.fullest(mem, cpu)
        if target is None:
            break
        while left and fits(target, mem, cpu):
            target.put_one(mem, cpu)
            left -= 1
    return left


def _estimate(
    servers: tuple[Server, ...],
    ready: list[_Bin],
    joining: list[_Bin],
    requested: list[_Bin],
    shape: Resources,
) -> tuple[list[_Bin], int, int, int]:
    """Pack the unplaced servers, largest first: onto Ready bins, then joined,
    then requested, then new ones of `shape`. Returns the new bins, how many
    are larger than a node, how many wait for a booting or new node, and the
    memory of those that only fit on new nodes.

    Servers of one size are interchangeable here (a plan names no user), so
    each size is placed as a batch, in the order the one-by-one placement
    (sorted by size, then user) would give the bins. New bins of one size
    fill alike: once the first holds all it can, the next ones are copies."""
    sizes: dict[tuple[int, float], int] = {}
    for server in servers:
        if server.node_id is None:
            key = (server.mem, server.cpu)
            sizes[key] = sizes.get(key, 0) + 1
    new: list[_Bin] = []
    too_big = waiting_on_boot = overflow = 0
    in_ready, in_joining = _Search(ready), _Search(joining)
    in_requested, in_new = _Search(requested), _Search(new)
    for mem, cpu in sorted(sizes, key=lambda k: (-k[0], -k[1])):
        left = _fill(in_ready, mem, cpu, sizes[(mem, cpu)])
        waiting_on_boot += left
        # Joined nodes before mere requests, so the same node is picked
        # again once this plan's requests are in flight (idempotence).
        left = _fill(in_requested, mem, cpu, _fill(in_joining, mem, cpu, left))
        if not left:
            continue
        if mem > shape.mem or cpu > shape.cpu:
            too_big += left  # no node we can add would take it: don't scale for it
            waiting_on_boot -= left
            continue
        overflow += left * mem
        left = _fill(in_new, mem, cpu, left)
        full: _Bin | None = None  # a new bin holding all of this size it can
        per_bin = 0
        while left:  # bounded: every pass places at least one server
            if full is not None and left >= per_bin:
                new.append(
                    _Bin(
                        f"+new-{len(new)}",
                        full.mem_free,
                        full.cpu_free,
                        full.mem_reserved,
                        full.cpu_reserved,
                        True,
                    )
                )
                left -= per_bin
                continue
            fresh = _Bin(f"+new-{len(new)}", shape.mem, shape.cpu, 0, 0.0)
            new.append(fresh)
            before = left
            left = _fill(in_new, mem, cpu, left)
            if left:
                full, per_bin = fresh, before - left
    return new, too_big, waiting_on_boot, overflow


def _gib(n: float) -> str:
    return f"{n / _GIB:.1f} GiB".replace(".0 GiB", " GiB")


def hosting_nodes(state: State) -> frozenset[str]:
    """Ids of nodes with a user server on them, pending or running."""
    ids = {s.node_id for s in state.servers if s.node_id is not None}
    ids.update(n.id for n in state.nodes if n.user_servers > 0)
    return frozenset(ids & {n.id for n in state.nodes})


def free_slots(state: State) -> int:
    """Free user slots on Ready, non-draining nodes right now (for metrics)."""
    return sum(
        slots_in(n.mem_free, n.cpu_free, state.slot)
        for n in state.nodes
        if n.ready and not n.draining
    )


def decide(state: State, now: datetime) -> Plan:
    """The plan for `state` at `now` (an aware datetime)."""
    if now.tzinfo is None:
        raise ValueError("decide() needs an aware datetime (use utcnow())")
    cfg = state.config
    shape, slot = state.node_shape, state.slot
    per_node = slots_in(shape.mem, shape.cpu, slot)

    down = {n.id for n in state.nodes if n.down_since is not None}
    terminate = tuple(
        sorted(
            n.id
            for n in state.nodes
            if n.down_since is not None
            and (now - n.down_since).total_seconds() >= cfg.lost_node_seconds
        )
    )
    hosting = hosting_nodes(state) - down
    protect = hosting
    unprotect = frozenset(n.id for n in state.nodes if n.protected and n.id not in hosting)

    active = [n for n in state.nodes if not n.draining and n.id not in down]
    # The pool still counts a lost node until it is terminated.
    current = len(state.nodes) - len(terminate) + state.pending_requests
    active_count = len(active) + state.pending_requests

    # 1. Bin-packing estimate for the servers the swarm has not placed.
    ready = [
        _Bin(n.id, n.mem_free, n.cpu_free, n.mem_reserved, n.cpu_reserved)
        for n in active
        if n.ready
    ]
    joining = [
        _Bin(n.id, n.mem_free, n.cpu_free, n.mem_reserved, n.cpu_reserved)
        for n in active
        if not n.ready
    ]
    requested = [
        _Bin(f"+booting-{i}", shape.mem, shape.cpu, 0, 0.0) for i in range(state.pending_requests)
    ]
    booting = joining + requested
    new, too_big, waiting_on_boot, overflow = _estimate(
        state.servers, ready, joining, requested, shape
    )
    new_for_servers = len(new)

    # 2. Headroom, counted over every node that is or will be there.
    free = sum(b.slots(slot) for b in (*ready, *booting, *new))
    cooling = (
        state.last_scale_out is not None
        and (now - state.last_scale_out).total_seconds() < cfg.scale_out_cooldown
    )
    # Headroom is for the next student while others are here; with nobody
    # around it would keep a node up all night (min_nodes and the schedule
    # say what to keep warm for the first arrival).
    headroom = cfg.headroom_slots if state.servers else 0
    short = max(0, headroom - free)
    new_for_headroom = 0 if cooling else math.ceil(short / per_node)

    # 3. Floors and ceiling.
    sched, window = schedule.schedule_floor(cfg.schedule, now, cfg.window_lead)
    floor = max(cfg.min_nodes, sched)
    planned = active_count + new_for_servers + new_for_headroom
    new_for_floor = max(0, floor - planned)
    wanted = new_for_servers + new_for_headroom + new_for_floor
    # Draining nodes that are already empty: a removal that did not finish.
    # They are not supply, so removing them is right whatever else happens.
    drain = [n.id for n in state.nodes if n.draining and n.id not in hosting | down]
    added = min(wanted, max(0, cfg.max_nodes - (current - len(drain))))

    # 4. Scale-in: only when nothing is added, only empty nodes past their cooldown.
    empty_for: dict[str, float] = {}
    if wanted == 0:
        bins = {b.id: b for b in (*ready, *booting)}
        candidates = []
        for n in active:
            if n.id in hosting or n.empty_since is None or bins[n.id].used:
                continue
            empty = (now - n.empty_since).total_seconds()
            if empty >= cfg.scale_in_cooldown:
                candidates.append((n.empty_since, n.id))
                empty_for[n.id] = empty
        remaining, spare = active_count, free
        for _, node_id in sorted(candidates):
            its_slots = bins[node_id].slots(slot)
            if remaining - 1 < floor or spare - its_slots < headroom:
                continue
            drain.append(node_id)
            remaining -= 1
            spare -= its_slots
    desired = min(cfg.max_nodes, current - len(drain) + added)

    # The one line.
    pending = sum(1 for s in state.servers if s.node_id is None)
    if added > 0:
        why = []
        if new_for_servers:
            why.append(f"{pending} pending servers need {_gib(overflow)} more than free")
        if new_for_headroom:
            why.append(f"{free} free slots, headroom {headroom}")
        if new_for_floor:
            why.append(
                f"schedule {schedule.describe(window)} needs {sched}"
                if window is not None and sched == floor
                else f"min_nodes {cfg.min_nodes}"
            )
        reason = f"scale out {current} -> {desired}: " + "; ".join(why)
        action = "scale_out"
    elif wanted > 0:
        reason = f"at max: {current} nodes (max_nodes {cfg.max_nodes}), {pending} pending servers"
        action = "at_max"
    elif drain:
        shown = ", ".join(
            f"{i} (empty {empty_for[i] / 60:.0f} min)" if i in empty_for else f"{i} (draining)"
            for i in drain
        )
        reason = f"scale in {current} -> {desired}: drain {shown}"
        action = "scale_in"
    elif short and cooling:
        reason = f"hold: {free} free slots < headroom {headroom}, scale-out cooldown"
        action = "hold"
    else:
        reason = f"steady: {current} nodes, {free} free slots"
        if waiting_on_boot:
            reason += f", {waiting_on_boot} servers wait for booting nodes"
        action = "steady"
    if drain and action != "scale_in":
        reason += f"; remove draining {', '.join(drain)}"
    if too_big:
        reason += f" ({too_big} servers larger than a node cannot be placed)"
    if terminate:
        reason += f"; terminate lost {', '.join(terminate)}"
    elif down:
        reason += f"; {len(down)} node(s) down, not counted as supply"
    return Plan(
        desired=desired,
        protect=protect,
        unprotect=unprotect,
        drain=tuple(drain),
        terminate=terminate,
        reason=reason,
        action=action,
    )
