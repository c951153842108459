"""Replay a week of a course through the autoscaler and report cost and waits.

`python pipeline.py simulate --course courses/intro-python-60.yaml`

The autoscaler run uses the production code: `decide()` builds the plan,
`apply()` carries it out against a simulated node pool (nodes are Ready
`boot_seconds` after they are requested) and a simulated swarm, and every
server is placed with `choose_node()`. The clock ticks every `step_seconds`
(one decision per tick); arrivals, departures and nodes becoming Ready happen
at their exact times in between, so a wait is measured to the second.

On the same trace it also runs a static pool sized for the peak and the
seed's policy (ASG target tracking on average CPU, which picks its own scale-in
victims), and computes the lower bound: perfect packing with zero wait, i.e.
the integral of ceil(demand / node capacity).
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field
from datetime import timedelta

from swarmhub.autoscaler.apply import apply
from swarmhub.autoscaler.course import Course, Request, load_course, requests, week_start
from swarmhub.autoscaler.decide import decide
from swarmhub.autoscaler.model import CPU_EPSILON, Node, Resources, Server, State
from swarmhub.autoscaler.pools.base import PoolNode, PoolNodeState
from swarmhub.capacity import choose_node
from swarmhub.config.autoscaler import AutoscalerConfig

WEEK = 7 * 86400.0
_ARRIVE, _READY, _DEPART = 0, 1, 2  # at the same instant: capacity appears before placing


@dataclass(eq=False)  # identity: servers are dict keys
class _Server:
    req: Request
    lifetime: float  # what is left to run (less after an eviction)
    node: _Node | None = None
    started: float | None = None
    generation: int = 0  # bumps on eviction, so a stale departure is ignored
    gave_up: bool = False


@dataclass(eq=False)
class _Node:
    """A simulated worker; has the attributes choose_node() and fullest_fit() read."""

    id: str
    requested: float
    mem_total: int
    cpu_total: float
    ready: bool = False
    draining: bool = False
    protected: bool = False
    mem_reserved: int = 0
    cpu_reserved: float = 0.0
    empty_since: float | None = None
    removed: float | None = None
    # A dict as an ordered set: evictions requeue in a reproducible order.
    servers: dict = field(default_factory=dict)

    @property
    def mem_free(self) -> int:
        return self.mem_total - self.mem_reserved

    @property
    def cpu_free(self) -> float:
        return self.cpu_total - self.cpu_reserved


class _Sim:
    """The world: nodes, servers, a queue of pending servers, an event heap."""

    def __init__(self, course: Course, trace: list[Request]):
        self.course = course
        self.now = 0.0
        self.shape = Resources(course.node.memory, course.node.cpus)
        self.slot = Resources(course.server.mem_reservation, course.server.cpu_reservation)
        self.nodes: dict[str, _Node] = {}
        self.gone: list[_Node] = []
        self.queue: list[_Server] = []  # pending, in arrival order
        self.servers = [_Server(r, r.lifetime) for r in trace]
        self.events: list[tuple] = []
        self.seq = 0
        self.evictions = 0
        self.give_up = 60 * course.cpu_policy.give_up_minutes
        self.last_scale_out: float | None = None
        for server in self.servers:
            self._push(server.req.arrival, _ARRIVE, server)

    def _push(self, when: float, kind: int, obj) -> None:
        self.seq += 1
        heapq.heappush(self.events, (when, kind, self.seq, obj))

    # --- the pool side -----------------------------------------------------
    def launch(self, count: int, *, boot: float) -> None:
        for _ in range(count):
            node = _Node(f"n{len(self.nodes) + len(self.gone):04d}", self.now, *self._shape())
            self.nodes[node.id] = node
            self._push(self.now + boot, _READY, node)

    def _shape(self) -> tuple[int, float]:
        return self.shape.mem, self.shape.cpu

    def remove(self, node: _Node) -> None:
        """Terminate a node; anyone still on it is evicted and queued again."""
        self.evict(node)
        node.removed = self.now
        del self.nodes[node.id]
        self.gone.append(node)

    def evict(self, node: _Node) -> None:
        for server in list(node.servers):
            self.evictions += 1
            self._unplace(server)
            server.lifetime -= self.now - server.started
            server.generation += 1
            self.queue.append(server)

    # --- the swarm side ----------------------------------------------------
    def _place(self, server: _Server, node: _Node) -> None:
        node.servers[server] = None
        node.mem_reserved += self.slot_of(server)[0]
        node.cpu_reserved += self.slot_of(server)[1]
        node.empty_since = None
        server.node = node
        if server.started is None:
            server.started = self.now
        self._push(self.now + server.lifetime, _DEPART, (server, server.generation))

    def _unplace(self, server: _Server) -> None:
        node = server.node
        node.servers.pop(server, None)
        node.mem_reserved -= self.slot_of(server)[0]
        node.cpu_reserved -= self.slot_of(server)[1]
        if abs(node.cpu_reserved) < CPU_EPSILON:
            node.cpu_reserved = 0.0
        if not node.servers:
            node.empty_since = self.now
        server.node = None

    def slot_of(self, server: _Server) -> tuple[int, float]:
        return self.slot.mem, self.slot.cpu

    def place_queue(self) -> None:
        if not self.queue:
            return
        waiting = []
        for server in self.queue:
            if server.started is None and self.now - server.req.arrival >= self.give_up:
                server.gave_up = True
                continue
            node_id = choose_node(self.nodes.values(), *self.slot_of(server))
            if node_id is None:
                waiting.append(server)
            else:
                self._place(server, self.nodes[node_id])
        self.queue = waiting

    def run_until(self, t: float) -> None:
        """Process every event up to and including time t, at its own time."""
        while self.events and self.events[0][0] <= t:
            when, kind, _, obj = heapq.heappop(self.events)
            self.now = when
            if kind == _ARRIVE:
                self.queue.append(obj)
                self.place_queue()
            elif kind == _READY:
                if obj.id in self.nodes:
                    obj.ready = True
                    obj.empty_since = when
                    self.place_queue()
            else:
                server, generation = obj
                if generation == server.generation and server.node is not None:
                    self._unplace(server)
                    self.place_queue()
        self.now = t

    def node_hours(self, end: float) -> float:
        alive = [(n.requested, end) for n in self.nodes.values()]
        dead = [(n.requested, n.removed) for n in self.gone]
        return sum(b - a for a, b in alive + dead) / 3600


class _SimPool:
    """NodePool over the simulation (what pools/local.py and aws.py are in production)."""

    def __init__(self, sim: _Sim, boot: float):
        self.sim, self.boot, self.desired = sim, boot, 0

    def list_nodes(self) -> list[PoolNode]:
        return [
            PoolNode(
                n.id,
                n.id if n.ready else None,
                PoolNodeState.RUNNING if n.ready else PoolNodeState.PENDING,
                n.protected,
            )
            for n in self.sim.nodes.values()
        ]

    def get_desired(self) -> int:
        return self.desired

    def set_desired(self, n: int) -> None:
        if n > len(self.sim.nodes):
            self.sim.launch(n - len(self.sim.nodes), boot=self.boot)
            self.sim.last_scale_out = self.sim.now
        self.desired = n

    def protect(self, node_id: str) -> None:
        self.sim.nodes[node_id].protected = True

    def unprotect(self, node_id: str) -> None:
        self.sim.nodes[node_id].protected = False

    def remove(self, node_id: str) -> None:
        self.sim.remove(self.sim.nodes[node_id])
        self.desired -= 1


class _SimSwarm:
    def __init__(self, sim: _Sim):
        self.sim = sim

    def tasks_on(self, node_id: str) -> list[str]:
        return [s.req.user for s in self.sim.nodes[node_id].servers]

    def pause(self, node_id: str) -> None:
        self.sim.nodes[node_id].draining = True

    def drain(self, node_id: str) -> None:
        node = self.sim.nodes[node_id]
        node.draining = True
        self.sim.evict(node)  # swarm reschedules what was there: an eviction

    def activate(self, node_id: str) -> None:
        self.sim.nodes[node_id].draining = False


def _state(sim: _Sim, pool: _SimPool, config: AutoscalerConfig, t0) -> State:
    nodes, servers = [], []
    for n in sim.nodes.values():
        if not n.ready:
            continue
        nodes.append(
            Node(
                id=n.id,
                ready=True,
                mem_total=n.mem_total,
                cpu_total=n.cpu_total,
                mem_reserved=n.mem_reserved,
                cpu_reserved=n.cpu_reserved,
                user_servers=len(n.servers),
                empty_since=None
                if n.empty_since is None
                else t0 + timedelta(seconds=n.empty_since),
                protected=n.protected,
                draining=n.draining,
            )
        )
        servers += [Server(s.req.user, n.id, False, *sim.slot_of(s)) for s in n.servers]
    servers += [Server(s.req.user, None, True, *sim.slot_of(s)) for s in sim.queue]
    joined = len(nodes)
    last = sim.last_scale_out
    return State(
        nodes=tuple(nodes),
        servers=tuple(servers),
        pending_requests=max(0, pool.desired - joined),
        last_scale_out=None if last is None else t0 + timedelta(seconds=last),
        node_shape=sim.shape,
        slot=sim.slot,
        config=config,
    )


@dataclass
class Result:
    policy: str
    node_hours: float
    cost: float
    waits: list[float]  # seconds, one per server (a give-up counts its wait so far)
    gave_up: int
    evictions: int
    decisions: dict[str, int] = field(default_factory=dict)

    def percentile(self, p: float) -> float | None:
        if not self.waits:
            return None
        ordered = sorted(self.waits)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _result(policy: str, sim: _Sim, course: Course, **extra) -> Result:
    waits = []
    for s in sim.servers:
        if s.started is not None:
            waits.append(s.started - s.req.arrival)
        else:
            waits.append(min(WEEK, s.req.arrival + sim.give_up) - s.req.arrival)
    hours = sim.node_hours(WEEK)
    return Result(
        policy=policy,
        node_hours=hours,
        cost=hours * course.node.price_per_hour,
        waits=waits,
        gave_up=sum(1 for s in sim.servers if s.started is None),
        evictions=sim.evictions,
        **extra,
    )


def run_autoscaler(course: Course, trace: list[Request], config: AutoscalerConfig) -> Result:
    sim = _Sim(course, trace)
    sim.give_up = WEEK  # the autoscaler is judged on waits, never on give-ups
    pool, swarm = _SimPool(sim, course.node.boot_seconds), _SimSwarm(sim)
    t0 = week_start(course)
    decisions: dict[str, int] = {}
    step = course.step_seconds
    # Start from what the config asks for at the start of the week, already Ready.
    first = decide(_state(sim, pool, config, t0), t0)
    sim.launch(first.desired, boot=0)
    pool.desired = first.desired
    t = 0.0
    while t <= WEEK:
        sim.run_until(t)
        state = _state(sim, pool, config, t0)
        plan = decide(state, t0 + timedelta(seconds=t))
        decisions[plan.action] = decisions.get(plan.action, 0) + 1
        apply(plan, pool, swarm)
        sim.place_queue()
        t += step
    return _result("autoscaler", sim, course, decisions=decisions)


def run_static(course: Course, trace: list[Request], nodes: int) -> Result:
    sim = _Sim(course, trace)
    sim.give_up = WEEK
    sim.launch(nodes, boot=0)
    sim.run_until(WEEK)
    return _result(f"static (peak, {nodes} nodes)", sim, course)


def run_cpu_target(course: Course, trace: list[Request], config: AutoscalerConfig) -> Result:
    """ASG target tracking on average CPU: every minute desired = ceil(n * cpu / target);
    out at once, in only after 15 low minutes, and the ASG picks the victims."""
    spec = course.cpu_policy
    rng = random.Random(course.seed + 1)  # noqa: S311 - a reproducible run, not a secret
    sim = _Sim(course, trace)
    boot = course.node.boot_seconds
    floor = max(spec.min_nodes, config.min_nodes)
    sim.launch(floor, boot=0)
    low_minutes = 0
    t = 0.0
    while t <= WEEK:
        sim.run_until(t)
        sim.place_queue()  # give-ups
        ready = [n for n in sim.nodes.values() if n.ready]
        running = sum(len(n.servers) for n in ready)
        busy = sum(1 for _ in range(running) if rng.random() < spec.busy_fraction)
        used = busy * spec.busy_cores + (running - busy) * spec.idle_cores
        cpus = sum(n.cpu_total for n in ready)
        util = used / cpus if cpus else 0.0
        n = len(sim.nodes)
        want = min(config.max_nodes, max(floor, math.ceil(len(ready) * util / spec.target)))
        if want > n:
            low_minutes = 0
            sim.launch(want - n, boot=boot)
        elif want < n:
            low_minutes += 1
            if low_minutes >= 15:
                low_minutes = 0
                for victim in rng.sample(sorted(sim.nodes), n - want):
                    sim.remove(sim.nodes[victim])
        else:
            low_minutes = 0
        t += 60
    return _result(f"cpu target {spec.target:.0%}", sim, course)


def lower_bound(course: Course, trace: list[Request]) -> tuple[float, int]:
    """(node-hours, peak nodes) of perfect packing with zero wait: the integral of
    max(ceil(mem / node mem), ceil(cpu / node cpu)) over the week."""
    deltas: dict[float, int] = {}
    for r in trace:
        end = min(WEEK, r.arrival + r.lifetime)
        deltas[r.arrival] = deltas.get(r.arrival, 0) + 1
        deltas[end] = deltas.get(end, 0) - 1
    mem, cpu = course.server.mem_reservation, course.server.cpu_reservation
    running, last, total, peak = 0, 0.0, 0.0, 0
    for t in sorted(deltas):
        nodes = max(
            math.ceil(running * mem / course.node.memory),
            math.ceil(running * cpu / course.node.cpus - CPU_EPSILON),
        )
        total += nodes * (t - last)
        peak = max(peak, nodes)
        running += deltas[t]
        last = t
    return total / 3600, peak


@dataclass
class Report:
    course: Course
    requests: int
    bound_hours: float
    peak_nodes: int
    results: list[Result]

    def table(self) -> str:
        c = self.course
        lines = [
            f"course {c.name}: {self.requests} servers in the week of {c.week_of} "
            f"({c.timezone}); node {c.node.memory / 1024**3:g} GiB / {c.node.cpus:g} CPU "
            f"at ${c.node.price_per_hour}/h, boot {c.node.boot_seconds} s; "
            f"server {c.server.mem_reservation / 1024**3:g} GiB / {c.server.cpu_reservation:g} CPU",
            f"{'policy':<26}{'node-h':>8}{'cost':>10}{'x bound':>9}"
            f"{'wait p50':>10}{'wait p95':>10}{'max':>9}{'gave up':>9}{'evicted':>9}",
            f"{'lower bound':<26}{self.bound_hours:>8.1f}"
            f"{self.bound_hours * c.node.price_per_hour:>10.2f}{1:>8.2f}x"
            f"{'0 s':>10}{'0 s':>10}{'0 s':>9}{0:>9}{0:>9}",
        ]
        for r in self.results:
            ratio = r.node_hours / self.bound_hours if self.bound_hours else float("nan")
            lines.append(
                f"{r.policy:<26}{r.node_hours:>8.1f}{r.cost:>10.2f}{ratio:>8.2f}x"
                f"{_secs(r.percentile(50)):>10}{_secs(r.percentile(95)):>10}"
                f"{_secs(max(r.waits, default=0)):>9}{r.gave_up:>9}{r.evictions:>9}"
            )
        return "\n".join(lines)


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.0f} min"


def simulate(course: Course, config: AutoscalerConfig) -> Report:
    trace = requests(course)
    bound, peak = lower_bound(course, trace)
    results = [
        run_autoscaler(course, trace, config),
        run_static(course, trace, peak),
        run_cpu_target(course, trace, config),
    ]
    return Report(course, len(trace), bound, peak, results)


def autoscaler_config(course: Course, fallback: AutoscalerConfig) -> AutoscalerConfig:
    """The course's own autoscaler section if it has one, else swarmhub.yaml's."""
    return course.autoscaler if course.autoscaler is not None else fallback


def main(cfg, course_path: str) -> Report:
    """Entry point of `pipeline.py simulate --course FILE`: print the table."""
    course = load_course(course_path)
    report = simulate(course, autoscaler_config(course, cfg.autoscaler))
    print(report.table())
    auto = report.results[0]
    print(
        "autoscaler decisions: " + ", ".join(f"{k} {v}" for k, v in sorted(auto.decisions.items()))
    )
    return report
