"""The bill from the hub's own records: pure arithmetic over trace.py's events.

Per course, over a period [start, end):

- server-hours: each server's start to stop (or the period's end if it still
  runs), clipped to the period;
- reserved GiB-hours: the same hours times the server's memory reservation;
- node-hours: every worker of the autoscaler's fleet record (fleetlog), busy
  or idle, where it reaches; elsewhere each node counts while it hosts at
  least one server (the union of its servers' intervals), a floor of the
  bill. The period's node-hours are split between the
  courses in proportion to their reserved GiB-hours (a course that reserved
  a third of the memory pays a third of the nodes);
- cost: node-hours x the price of a node-hour;
- spawn wait p50/p95: request to answer, of the servers asked for in the
  period (nearest rank, as the simulator's);
- cost per student-hour: cost / server-hours.

The events alone cannot see a node's time while it hosts nothing (booting,
kept by `min_nodes` or a schedule window, waiting to be drained); the fleet
record can, and the report says which of the two it used.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from swarmhub.autoscaler import fleetlog
from swarmhub.autoscaler.trace import ServerEvent, Visit, visits

GIB = 1024**3
NO_COURSE = "(none)"


@dataclass(frozen=True)
class Interval:
    visit: Visit
    start: datetime
    end: datetime

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


@dataclass
class CourseBill:
    course: str
    students: int = 0
    servers: int = 0
    never_started: int = 0
    server_hours: float = 0.0
    gib_hours: float = 0.0
    node_hours: float = 0.0
    cost: float | None = None
    waits: list[float] = field(default_factory=list)

    @property
    def wait_p50(self) -> float | None:
        return percentile(self.waits, 50)

    @property
    def wait_p95(self) -> float | None:
        return percentile(self.waits, 95)

    @property
    def cost_per_student_hour(self) -> float | None:
        if self.cost is None or not self.server_hours:
            return None
        return self.cost / self.server_hours


@dataclass
class Bill:
    start: datetime
    end: datetime
    price: float | None
    courses: list[CourseBill]  # sorted by name; only the one asked for with --course
    total: CourseBill  # every course, whatever was asked for
    intervals: list[Interval]
    nodes: dict[str, list[tuple[datetime, datetime]]]  # node id -> its busy spans
    unplaced: int  # servers whose events name no node (their hours buy no node-hours)
    # From here on the autoscaler's fleet records give the node count
    # (swarmhub.autoscaler.fleetlog); before it, nodes count while busy.
    fleet_from: datetime | None = None
    fleet_steps: list[tuple[datetime, datetime, int]] = field(default_factory=list)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest rank, as sim_policies.Result.percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def clipped(found: Iterable[Visit], start: datetime, end: datetime) -> list[Interval]:
    """Each started server's running time inside [start, end)."""
    out = []
    for v in found:
        if v.started is None:
            continue
        a = max(v.started, start)
        b = min(v.stopped or end, end)
        if b > a:
            out.append(Interval(v, a, b))
    return out


def union(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def bill(
    events: list[ServerEvent],
    start: datetime,
    end: datetime,
    *,
    price: float | None = None,
    course: str | None = None,
    default_mem: int = GIB,
    fleet: list[fleetlog.FleetRecord] | None = None,
    found: list[Visit] | None = None,
) -> Bill:
    """The period's bill. `default_mem`: the reservation of a server whose
    events do not say (servers.mem_reservation). `fleet`: the autoscaler's
    records of the fleet's size; where they reach, every node-hour counts,
    busy or not. `found`: visits(events), or those of them that reach the
    period, when the caller has them already (a bill a day for the plot)."""
    found = visits(events) if found is None else found
    intervals = clipped(found, start, end)
    spans: dict[str, list] = defaultdict(list)
    for i in intervals:
        if i.visit.node:
            spans[i.visit.node].append((i.start, i.end))
    nodes = {n: union(s) for n, s in spans.items()}
    fleet_steps = fleetlog.steps(fleet or [], start, end)
    fleet_from = fleet_steps[0][0] if fleet_steps else None
    busy_until = fleet_from or end
    node_hours = (
        sum(
            max(0.0, (min(b, busy_until) - a).total_seconds()) for s in nodes.values() for a, b in s
        )
        / 3600
    )
    node_hours += fleetlog.node_hours(fleet_steps)

    rows: dict[str, CourseBill] = {}
    users: dict[str, set] = defaultdict(set)

    def row(name: str | None) -> CourseBill:
        key = name or NO_COURSE
        return rows.setdefault(key, CourseBill(key))

    for i in intervals:
        r = row(i.visit.course)
        mem = i.visit.mem if i.visit.mem is not None else default_mem
        r.server_hours += i.hours
        r.gib_hours += i.hours * mem / GIB
        users[r.course].add(i.visit.user)
    for v in found:
        if not start <= v.requested < end:
            continue
        r = row(v.course)
        if v.started is None:
            r.never_started += 1
        else:
            r.servers += 1
            r.waits.append(v.wait)

    total = CourseBill("total")
    gib_hours = sum(r.gib_hours for r in rows.values())
    for r in rows.values():
        r.students = len(users[r.course])
        r.node_hours = node_hours * r.gib_hours / gib_hours if gib_hours else 0.0
        r.cost = None if price is None else r.node_hours * price
        total.servers += r.servers
        total.never_started += r.never_started
        total.server_hours += r.server_hours
        total.gib_hours += r.gib_hours
        total.waits += r.waits
    total.students = len({i.visit.user for i in intervals})
    total.node_hours = node_hours
    total.cost = None if price is None else node_hours * price

    shown = sorted(rows.values(), key=lambda r: r.course)
    if course is not None:
        shown = [r for r in shown if r.course == course]
    return Bill(
        start=start,
        end=end,
        price=price,
        courses=shown,
        total=total,
        intervals=intervals,
        nodes=nodes,
        unplaced=len({id(i.visit) for i in intervals if not i.visit.node}),
        fleet_from=fleet_from,
        fleet_steps=fleet_steps,
    )


def timeline(b: Bill, course: str | None = None) -> list[tuple[datetime, int, int]]:
    """(time, servers running, nodes hosting a server) at every change in the
    period. With `course`, the servers are that course's; nodes stay all."""
    deltas: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    for i in b.intervals:
        if course is None or (i.visit.course or NO_COURSE) == course:
            deltas[i.start][0] += 1
            deltas[i.end][0] -= 1
    busy_until = b.fleet_from or b.end
    for spans in b.nodes.values():
        for a, z in spans:
            if a < busy_until:
                deltas[a][1] += 1
                deltas[min(z, busy_until)][1] -= 1
    for a, z, n in b.fleet_steps:
        deltas[a][1] += n
        deltas[z][1] -= n
    out = [(b.start, 0, 0)]
    servers = nodes = 0
    for when in sorted(deltas):
        servers += deltas[when][0]
        nodes += deltas[when][1]
        if when == out[-1][0]:
            out[-1] = (when, servers, nodes)
        else:
            out.append((when, servers, nodes))
    if out[-1][0] < b.end:
        out.append((b.end, servers, nodes))
    return out
