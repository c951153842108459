"""The policies the simulator compares, each run over the same trace.

- the autoscaler: production's `decide()` and `apply()` at every
  `poll_interval` instant, against a simulated pool and swarm; with
  `enabled: false`, the static pool a hub without it keeps;
- a static pool (the lower bound's peak: nobody ever waits);
- the seed's policy, ASG target tracking on average CPU;
- the lower bound: perfect packing, zero wait, free migration.

A poll whose `decide()` input cannot have changed since the last decision is
not computed again, only counted: the world's `version` is unchanged, the
last plan changed nothing when applied, and no time that `decide()` compares
`now` with (the end of the scale-out cooldown, a node's scale-in cooldown, a
schedule window's edge) has been reached. Such a poll would get the same plan
and applying it would do nothing, so the run is the one of deciding at every
poll (tests/unit/test_simulate_speed.py checks that on the shipped courses).
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field
from datetime import timedelta

from swarmhub.autoscaler.apply import apply
from swarmhub.autoscaler.course import Course, Request, span_seconds, week_start
from swarmhub.autoscaler.decide import decide
from swarmhub.autoscaler.model import CPU_EPSILON, Resources, State, slots_in
from swarmhub.autoscaler.pools.base import PoolNode, PoolNodeState
from swarmhub.autoscaler.sim_hub import HubModel
from swarmhub.autoscaler.sim_world import World
from swarmhub.config.autoscaler import AutoscalerConfig

# decide() compares aware datetimes built from float seconds (microseconds):
# wake this much before a threshold so rounding never skips past one.
_EARLY = 1e-3


class SimPool:
    """NodePool over the simulation (what pools/local.py and aws.py are in production)."""

    def __init__(self, world: World, boot: float):
        self.world, self.boot, self.desired = world, boot, 0

    def list_nodes(self) -> list[PoolNode]:
        return [
            PoolNode(
                n.id,
                n.id if n.ready else None,
                PoolNodeState.RUNNING if n.ready else PoolNodeState.PENDING,
                n.protected,
            )
            for n in self.world.nodes.values()
        ]

    def get_desired(self) -> int:
        return self.desired

    def set_desired(self, n: int) -> None:
        world = self.world
        if n > len(world.nodes):
            world.launch(n - len(world.nodes), boot=self.boot)
            world.last_scale_out = world.now
        self.desired = n
        world.version += 1

    def protect(self, node_id: str) -> None:
        self.world.set_protected(self.world.nodes[node_id], True)

    def unprotect(self, node_id: str) -> None:
        self.world.set_protected(self.world.nodes[node_id], False)

    def remove(self, node_id: str) -> None:
        self.world.remove(self.world.nodes[node_id])
        self.desired -= 1


class SimSwarm:
    def __init__(self, world: World):
        self.world = world

    def tasks_on(self, node_id: str) -> list[str]:
        return [s.req.user for s in self.world.nodes[node_id].servers]

    def pause(self, node_id: str) -> None:
        self.world.set_draining(self.world.nodes[node_id], True)

    def drain(self, node_id: str) -> None:
        node = self.world.nodes[node_id]
        self.world.set_draining(node, True)
        self.world.evict(node)  # swarm reschedules what was there: an eviction

    def activate(self, node_id: str) -> None:
        self.world.set_draining(self.world.nodes[node_id], False)


def state_of(world: World, pool: SimPool, config: AutoscalerConfig) -> State:
    """What production's service.gather() would hand decide() for this world."""
    nodes = tuple(world.node_model(n) for n in world.nodes.values() if n.ready)
    last = world.last_scale_out
    return State(
        nodes=nodes,
        servers=tuple(world.models.values()),
        pending_requests=max(0, pool.desired - world.ready_count),
        last_scale_out=None if last is None else world.t0 + timedelta(seconds=last),
        node_shape=world.shape,
        slot=world.slot,
        config=config,
    )


def _wake(world: World, config: AutoscalerConfig, edges: list[float], t: float) -> float:
    """The first time after t at which decide() could answer differently with
    the same state: a cooldown ends or a schedule edge comes."""
    times = [world.next_event()]
    if world.last_scale_out is not None:
        times.append(world.last_scale_out + config.scale_out_cooldown)
    cooldown = config.scale_in_cooldown
    times.extend(
        n.empty_since + cooldown
        for n in world.nodes.values()
        if n.ready and n.empty_since is not None and n.empty_since + cooldown > t
    )
    i = bisect.bisect_right(edges, t)
    if i < len(edges):
        times.append(edges[i])
    return min((x for x in times if x > t), default=math.inf) - _EARLY


@dataclass
class Result:
    policy: str
    node_hours: float
    cost: float
    waits: list[float]  # seconds, one per server (a give-up counts its wait so far)
    gave_up: int
    evictions: int
    decisions: dict[str, int] = field(default_factory=dict)
    restart_waits: list[float] = field(default_factory=list)  # after each eviction
    waiting_at_end: int = 0  # asked for a server, still waiting when the week ended
    decide_calls: int = 0  # decide() computed; the other polls provably repeat a plan

    def percentile(self, p: float, values: list[float] | None = None) -> float | None:
        values = self.waits if values is None else values
        if not values:
            return None
        ordered = sorted(values)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def result_of(policy: str, world: World, course: Course, **extra) -> Result:
    waits, restarts, gave_up, waiting = [], [], 0, 0
    for s in world.servers:
        restarts += s.restart_waits
        if s.evicted_at is not None:
            restarts.append(world.end - s.evicted_at)  # still waiting to start again
        if s.started is not None:
            waits.append(s.started - s.req.arrival)
        elif s.gave_up:
            gave_up += 1
            waits.append(world.give_up)
        else:
            waiting += 1
            waits.append(world.end - s.req.arrival)
    hours = world.node_hours(world.end)
    return Result(
        policy=policy,
        node_hours=hours,
        cost=hours * course.node.price_per_hour,
        waits=waits,
        gave_up=gave_up,
        evictions=world.evictions,
        restart_waits=restarts,
        waiting_at_end=waiting,
        **extra,
    )


def run_autoscaler(
    course: Course,
    trace: list[Request],
    config: AutoscalerConfig,
    static_nodes: int | None = None,
    *,
    every_poll: bool = False,
    hub: HubModel | None = None,
    record: list | None = None,
) -> Result:
    """The autoscaler's week. With `enabled: false` a hub keeps the pool it was
    deployed with: `static_nodes` (default `min_nodes`), all week.
    `every_poll`: compute decide() at every poll, even where it provably
    repeats itself (the tests compare both ways). `hub`: the swarmhub.yaml
    the autoscaler runs in (its courses' windows join the schedule at each
    decision, as service.gather() does). `record`: gets (seconds, State, Plan)
    of every decision computed."""
    if not config.enabled:
        nodes = config.min_nodes if static_nodes is None else static_nodes
        r = run_static(course, trace, nodes)
        r.policy = f"autoscaler off ({nodes} nodes)"
        return r
    t0 = week_start(course)
    world = World(course, trace, t0)
    pool, swarm = SimPool(world, course.node.boot_seconds), SimSwarm(world)
    hub = hub or HubModel(None)
    edges = hub.edges(config, t0, world.end)
    # Start from what the config asks for at the start of the week, already Ready.
    first = decide(state_of(world, pool, hub.config_at(config, t0)), t0)
    world.launch(first.desired, boot=0)
    pool.desired = first.desired
    poll = config.poll_interval
    last = int(world.end // poll)  # polls 0..last
    decisions: dict[str, int] = {}
    calls, k = 0, 0
    while k <= last:
        t = k * poll
        world.run_until(t)
        now = t0 + timedelta(seconds=t)
        state = state_of(world, pool, hub.config_at(config, now))
        plan = decide(state, now)
        if record is not None:
            record.append((t, state, plan))
        calls += 1
        before = world.version
        apply(plan, pool, swarm)
        world.place_queue()
        following = k + 1
        if world.version == before and not every_poll:  # skip what would repeat this plan
            wake = _wake(world, config, edges, t)
            following = max(following, last + 1 if wake > world.end else math.ceil(wake / poll))
        following = min(following, last + 1)
        decisions[plan.action] = decisions.get(plan.action, 0) + following - k
        k = following
    world.run_until(world.end)  # what happens after the last poll still happens
    return result_of("autoscaler", world, course, decisions=decisions, decide_calls=calls)


def run_static(course: Course, trace: list[Request], nodes: int) -> Result:
    world = World(course, trace)
    world.launch(nodes, boot=0)
    world.run_until(world.end)
    return result_of(f"static (peak, {nodes} nodes)", world, course)


def run_cpu_target(course: Course, trace: list[Request], config: AutoscalerConfig) -> Result:
    """ASG target tracking on average CPU: every minute desired = ceil(n * cpu / target);
    out at once, in only after 15 low minutes, and the ASG picks the victims."""
    spec = course.cpu_policy
    rng = random.Random(course.seed + 1)  # noqa: S311 - a reproducible run, not a secret
    world = World(course, trace)
    world.give_up = 60 * spec.give_up_minutes
    boot = course.node.boot_seconds
    floor = max(spec.min_nodes, config.min_nodes)
    world.launch(floor, boot=0)
    low_minutes = 0
    draw, busy_p = rng.random, spec.busy_fraction
    for minute in range(int(world.end // 60) + 1):
        world.run_until(60.0 * minute)
        running = world.running
        busy = sum(1 for _ in range(running) if draw() < busy_p)
        used = busy * spec.busy_cores + (running - busy) * spec.idle_cores
        cpus = world.ready_count * world.shape.cpu
        util = used / cpus if cpus else 0.0
        n = len(world.nodes)
        want = min(config.max_nodes, max(floor, math.ceil(world.ready_count * util / spec.target)))
        if want > n:
            low_minutes = 0
            world.launch(want - n, boot=boot)
        elif want < n:
            low_minutes += 1
            if low_minutes >= 15:
                low_minutes = 0
                # The ASG terminates its victims together; the swarm then
                # reschedules their servers onto what is left.
                for victim in rng.sample(sorted(world.nodes), n - want):
                    world.remove(world.nodes[victim], place=False)
                world.place_queue()
        else:
            low_minutes = 0
    return result_of(f"cpu target {spec.target:.0%}", world, course)


def lower_bound(course: Course, trace: list[Request]) -> tuple[float, int]:
    """(node-hours, peak nodes) of perfect packing with zero wait and free
    migration. At each instant, the most of: the memory and the CPU reserved,
    each over a node's; and for each reservation size, its servers over the
    whole number of them a node holds. With one size that is exactly the nodes
    needed: ceil(servers / servers per node)."""
    shape = Resources(course.node.memory, course.node.cpus)
    horizon = span_seconds(course)
    deltas: dict[float, list[tuple[tuple[int, float], int]]] = {}
    for r in trace:
        if r.arrival >= horizon:
            continue
        end = min(horizon, r.end_if_started(r.arrival))
        size = (r.mem, r.cpu)
        deltas.setdefault(r.arrival, []).append((size, 1))
        deltas.setdefault(end, []).append((size, -1))
    per_node = {}
    count: dict[tuple[int, float], int] = {}
    mem = cpu = 0.0
    last, total, peak, nodes = 0.0, 0.0, 0, 0
    for t in sorted(deltas):
        total += nodes * (t - last)
        for size, d in deltas[t]:
            count[size] = count.get(size, 0) + d
            mem += d * size[0]
            cpu += d * size[1]
            if size not in per_node:
                per_node[size] = slots_in(shape.mem, shape.cpu, Resources(*size))
        nodes = max(
            (-(-n // per_node[s]) for s, n in count.items() if n > 0 and per_node[s]),
            default=0,
        )
        if len(count) > 1:
            nodes = max(
                nodes,
                math.ceil(mem / shape.mem),
                math.ceil(cpu / shape.cpu - CPU_EPSILON),
            )
        peak = max(peak, nodes)
        last = t
    return total / 3600, peak
