"""The simulated world: worker nodes, user servers, the queue of pending ones.

Time advances from event to event (a heap): an arrival, a node becoming
Ready, a server leaving, a student giving up. Each event that frees or adds
room tries the queue again; a server goes where `choose_node()` says.

What keeps a burst of thousands linear rather than quadratic:
- `choose_node()` is asked over one representative per *kind* of node (same
  totals, same reservations): within a kind every node fits or none does, and
  the fullest-fit rule then picks the smallest id, so the representative is
  the kind's smallest id and the answer is the one over every node;
- the queue is kept per reservation size, in queue order: within one pass
  room only shrinks, so once a size's first server finds no room, the rest of
  that size find none either and are not tried;
- `version` counts every change `decide()` could see, and each node and
  server keeps its `model` value (what `State` holds) until it changes.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from swarmhub.autoscaler.course import Course, Request, span_seconds, week_start
from swarmhub.autoscaler.model import CPU_EPSILON, Node, Resources, Server
from swarmhub.capacity import choose_node

WEEK = 7 * 86400.0
# At one instant: a give-up first, then arrivals, then capacity appears, then departures.
GIVE_UP, ARRIVE, READY, DEPART = -1, 0, 1, 2


@dataclass(eq=False)  # identity: servers are dict keys
class SimServer:
    req: Request
    lifetime: float  # what is left to run (less after an eviction)
    node: SimNode | None = None
    started: float | None = None  # the first start
    last_start: float = 0.0
    evicted_at: float | None = None  # set while waiting to start again
    restart_waits: list[float] = field(default_factory=list)
    generation: int = 0  # bumps on eviction, so a stale departure is ignored
    gave_up: bool = False
    queued: int = 0  # position in the queue (a sequence number)
    model: Server | None = None


@dataclass(eq=False)
class SimNode:
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
    kind: tuple | None = None  # its placement kind while Ready and active
    model: Node | None = None  # the State's view, None when stale

    @property
    def mem_free(self) -> int:
        return self.mem_total - self.mem_reserved

    @property
    def cpu_free(self) -> float:
        return self.cpu_total - self.cpu_reserved


class World:
    """Nodes, servers, the queue of pending servers, an event heap."""

    def __init__(self, course: Course, trace: list[Request], t0: datetime | None = None):
        self.course = course
        self.t0 = week_start(course) if t0 is None else t0
        self.now = 0.0
        self.end = span_seconds(course)  # the simulated span: a week, or a replay's weeks
        self.shape = Resources(course.node.memory, course.node.cpus)
        self.slot = Resources(course.server.mem_reservation, course.server.cpu_reservation)
        self.nodes: dict[str, SimNode] = {}
        self.gone: list[SimNode] = []
        self.servers = [SimServer(r, r.lifetime) for r in trace if r.arrival < self.end]
        self.events: list[tuple] = []
        self.seq = 0
        self.evictions = 0
        self.give_up = self.end  # seconds a student waits for a first start
        self.last_scale_out: float | None = None
        self.version = 0  # bumps on every change decide() could see
        self.ready_count = 0
        self.running = 0
        self.models: dict[SimServer, Server] = {}  # placed and pending, for State
        self._queue: dict[tuple[int, float], deque[SimServer]] = {}
        self._pending = 0
        self._kinds: dict[tuple, list[str]] = {}  # kind -> heap of node ids (lazy)
        self._node_seq = 0
        for server in self.servers:
            self._push(server.req.arrival, ARRIVE, server)

    def _push(self, when: float, kind: int, obj) -> None:
        self.seq += 1
        heapq.heappush(self.events, (when, kind, self.seq, obj))

    def next_event(self) -> float:
        return self.events[0][0] if self.events else float("inf")

    def touch(self, node: SimNode) -> None:
        """`node` changed: its State view is stale and its kind may differ."""
        node.model = None
        self.version += 1
        kind = None
        if node.ready and not node.draining and node.id in self.nodes:
            kind = (node.mem_total, node.cpu_total, node.mem_reserved, node.cpu_reserved)
        if kind != node.kind:
            node.kind = kind
            if kind is not None:
                heapq.heappush(self._kinds.setdefault(kind, []), node.id)

    # --- the pool side -----------------------------------------------------
    def launch(self, count: int, *, boot: float) -> None:
        for _ in range(count):
            node = SimNode(f"n{self._node_seq:04d}", self.now, self.shape.mem, self.shape.cpu)
            self._node_seq += 1
            self.nodes[node.id] = node
            self._push(self.now + boot, READY, node)
        self.version += 1

    def remove(self, node: SimNode, *, place: bool = True) -> None:
        """Terminate a node; anyone still on it is evicted and queued again, and
        placed elsewhere at once if `place` (as the swarm reschedules)."""
        self.evict(node)
        node.removed = self.now
        del self.nodes[node.id]
        self.gone.append(node)
        if node.ready:
            self.ready_count -= 1
        self.touch(node)
        if place:
            self.place_queue()

    def evict(self, node: SimNode) -> None:
        for server in list(node.servers):
            self.evictions += 1
            self._unplace(server)
            server.lifetime -= self.now - server.last_start
            server.generation += 1
            server.evicted_at = self.now
            self._enqueue(server)

    def set_draining(self, node: SimNode, value: bool) -> None:
        node.draining = value
        self.touch(node)

    def set_protected(self, node: SimNode, value: bool) -> None:
        node.protected = value
        node.model = None
        self.version += 1

    # --- the swarm side ----------------------------------------------------
    def _enqueue(self, server: SimServer) -> None:
        self.seq += 1
        server.queued = self.seq
        req = server.req
        self._queue.setdefault((req.mem, req.cpu), deque()).append(server)
        self._pending += 1
        self.models[server] = Server(req.user, None, True, req.mem, req.cpu)
        self.version += 1

    def _place(self, server: SimServer, node: SimNode) -> None:
        req = server.req
        node.servers[server] = None
        node.mem_reserved += req.mem
        node.cpu_reserved += req.cpu
        node.empty_since = None
        server.node = node
        if server.started is None:
            server.started = self.now
        if server.evicted_at is not None:
            server.restart_waits.append(self.now - server.evicted_at)
            server.evicted_at = None
        server.last_start = self.now
        self.running += 1
        self.models[server] = Server(req.user, node.id, False, req.mem, req.cpu)
        self._push(
            req.end_if_started(self.now, server.lifetime), DEPART, (server, server.generation)
        )
        self.touch(node)

    def _unplace(self, server: SimServer) -> None:
        node, req = server.node, server.req
        node.servers.pop(server, None)
        node.mem_reserved -= req.mem
        node.cpu_reserved -= req.cpu
        if abs(node.cpu_reserved) < CPU_EPSILON:
            node.cpu_reserved = 0.0
        if not node.servers:
            node.empty_since = self.now
        server.node = None
        self.running -= 1
        del self.models[server]
        self.touch(node)

    def _representatives(self) -> list[SimNode]:
        """The smallest-id node of each kind (dropping stale heap entries)."""
        out = []
        for kind in list(self._kinds):
            ids = self._kinds[kind]
            while ids:
                node = self.nodes.get(ids[0])
                if node is not None and node.kind == kind:
                    break
                heapq.heappop(ids)
            if ids:
                out.append(self.nodes[ids[0]])
            else:
                del self._kinds[kind]
        return out

    def _head(self, size: tuple[int, float]) -> SimServer | None:
        line = self._queue.get(size)
        while line and (line[0].gave_up or line[0].node is not None):
            line.popleft()
        return line[0] if line else None

    def pending(self) -> int:
        return self._pending

    def place_queue(self) -> None:
        """Place what can be placed, in queue order (see the module's docstring)."""
        if not self._pending:
            return
        heads = []
        for size in list(self._queue):
            head = self._head(size)
            if head is None:
                del self._queue[size]
            else:
                heads.append((head.queued, size))
        heapq.heapify(heads)
        while heads:
            _, size = heapq.heappop(heads)
            server = self._queue[size][0]
            node_id = choose_node(self._representatives(), server.req.mem, server.req.cpu)
            if node_id is None:
                continue  # no room for this size for the rest of the pass
            self._queue[size].popleft()
            self._pending -= 1
            self._place(server, self.nodes[node_id])
            head = self._head(size)
            if head is not None:
                heapq.heappush(heads, (head.queued, size))

    def run_until(self, t: float) -> None:
        """Process every event up to and including time t, at its own time."""
        events = self.events
        while events and events[0][0] <= t:
            when, kind, _, obj = heapq.heappop(events)
            self.now = when
            if kind == ARRIVE:
                if self.give_up < self.end:
                    self._push(when + self.give_up, GIVE_UP, obj)
                self._enqueue(obj)
                self.place_queue()
            elif kind == READY:
                if obj.id in self.nodes:
                    obj.ready = True
                    obj.empty_since = when
                    self.ready_count += 1
                    self.touch(obj)
                    self.place_queue()
            elif kind == DEPART:
                server, generation = obj
                if generation == server.generation and server.node is not None:
                    self._unplace(server)
                    self.place_queue()
            elif obj.started is None and not obj.gave_up:  # GIVE_UP
                obj.gave_up = True
                self._pending -= 1
                del self.models[obj]
                self.version += 1
        self.now = t

    # --- what decide() sees --------------------------------------------------
    def node_model(self, n: SimNode) -> Node:
        if n.model is None:
            n.model = Node(
                id=n.id,
                ready=True,
                mem_total=n.mem_total,
                cpu_total=n.cpu_total,
                mem_reserved=n.mem_reserved,
                cpu_reserved=n.cpu_reserved,
                user_servers=len(n.servers),
                empty_since=None
                if n.empty_since is None
                else self.t0 + timedelta(seconds=n.empty_since),
                protected=n.protected,
                draining=n.draining,
            )
        return n.model

    def node_hours(self, end: float) -> float:
        alive = [(n.requested, end) for n in self.nodes.values()]
        dead = [(n.requested, n.removed) for n in self.gone]
        return sum(b - a for a, b in alive + dead) / 3600
