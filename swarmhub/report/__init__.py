"""`python pipeline.py report`: what each course used and cost, from the hub's records.

    python pipeline.py report [--since 7d] [--course NAME] [--events FILE]
        [--price-per-node-hour 0.0832] [--plot week.html|week.png] [--export FILE]

The events are the ones the hub writes (swarmhub.hub.events). On the local
target they are read from the hub's state directory; on AWS they live on the
manager's state volume and are fetched first (docs/report.md), then passed
with --events. `--export` writes the period's events (of `--course`, if
given) in the same format, for `simulate --replay`.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from swarmhub.autoscaler.fleetlog import FILE_NAME as FLEET_FILE
from swarmhub.autoscaler.fleetlog import read_fleet
from swarmhub.autoscaler.trace import ServerEvent, Visit, read_events, visits, write_events
from swarmhub.errors import SwarmhubError
from swarmhub.report.billing import GIB, Bill, CourseBill, bill
from swarmhub.report.billing import timeline as timeline  # the tests' and callers' name

AWS_EVENTS = "/var/lib/swarmhub/hub/events.jsonl"  # on the manager (its state volume)
_SPAN = re.compile(r"^(\d+(?:\.\d+)?)([dhm])$")


def utcnow() -> datetime:
    return datetime.now(UTC)


def since(text: str, now: datetime) -> datetime:
    """`7d`, `36h`, `90m`, or an ISO date/time (UTC unless it says)."""
    m = _SPAN.match(text.strip())
    if m:
        unit = {"d": "days", "h": "hours", "m": "minutes"}[m.group(2)]
        try:
            return now - timedelta(**{unit: float(m.group(1))})
        except OverflowError:
            raise SwarmhubError(
                f"--since {text}: reaches back before the year 1; give a shorter span, e.g. 30d"
            ) from None
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise SwarmhubError(
            f"--since {text!r}: write a span (7d, 36h, 90m) or a date (2025-03-24)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


# Bounds of a plausible event: a day's wait, a thousand CPUs, a PiB of memory.
_PLAUSIBLE = {"spawn_wait_seconds": 1e9, "cpu_reservation": 1e6, "mem_reservation": 2**50}


def _implausible(e: ServerEvent) -> str | None:
    """Why an event's numbers cannot be billed (NaN, infinite, absurd), or None."""
    for name, bound in _PLAUSIBLE.items():
        value = getattr(e, name)
        if value is not None and not (math.isfinite(value) and value < bound):
            return f"{name} `{value}` is not a plausible number"
    if e.spawn_wait_seconds:
        try:
            e.time - timedelta(seconds=e.spawn_wait_seconds)
        except OverflowError:
            return f"time {e.time.isoformat()} with its spawn wait is before the year 1"
    return None


def _refuse_implausible(path: Path) -> None:
    """The file's first line whose numbers cannot be billed, as one error line."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        why = line.strip() and _implausible(ServerEvent.from_json(line))
        if why:
            raise SwarmhubError(f"{path}:{number}: {why}; fix or delete that line")


def events_path(cfg, target: str, given: str | None) -> Path:
    if given:
        return Path(given)
    if target == "aws":
        raise SwarmhubError(
            f"report on the aws target: the events are on the manager, {AWS_EVENTS}; "
            "fetch them (docs/report.md) and pass --events FILE"
        )
    from swarmhub.hub.events import local_events_file

    path = local_events_file(cfg)
    if not path.exists():
        raise SwarmhubError(
            f"{path}: no events recorded yet (the hub writes them as servers start and stop)"
        )
    return path


def table(b: Bill) -> str:
    hours = (b.end - b.start).total_seconds() / 3600
    price = "no price given" if b.price is None else f"${b.price:g} a node-hour"
    lines = [
        f"{b.start:%Y-%m-%d %H:%M} to {b.end:%Y-%m-%d %H:%M} UTC ({hours:.0f} h), {price}",
        f"{'course':<20}{'students':>9}{'servers':>8}{'failed':>7}{'server-h':>10}"
        f"{'GiB-h':>9}{'node-h':>8}{'cost':>10}{'wait p50':>9}{'wait p95':>9}"
        f"{'$/student-h':>12}",
    ]
    rows = list(b.courses)
    if len(rows) != 1 or rows[0].course != b.total.course:
        rows.append(b.total)
    for r in rows:
        lines.append(_row(r))
    if b.fleet_from is None:
        lines.append(
            f"node-h: {len(b.nodes)} nodes while they hosted a server, split by reserved "
            "GiB-h; hours a node hosted nothing (boot, min_nodes, windows) are not in the "
            "events and there is no fleet record of the autoscaler, so the real bill is at "
            "least this"
        )
    else:
        lines.append(
            "node-h: every worker, busy or not, from the autoscaler's fleet record"
            + (
                f" (from {b.fleet_from:%Y-%m-%d %H:%M}; before it, nodes while they hosted "
                "a server)"
                if b.fleet_from > b.start
                else ""
            )
            + ", split by reserved GiB-h"
        )
    if b.unplaced:
        lines.append(f"{b.unplaced} servers name no node: their GiB-h count, no node-h")
    return "\n".join(lines)


def _row(r: CourseBill) -> str:
    return (
        f"{r.course:<20}{r.students:>9}{r.servers:>8}{r.never_started:>7}"
        f"{r.server_hours:>10.1f}{r.gib_hours:>9.1f}{r.node_hours:>8.1f}"
        f"{_money(r.cost):>10}{_secs(r.wait_p50):>9}{_secs(r.wait_p95):>9}"
        f"{_money(r.cost_per_student_hour, 3):>12}"
    )


def _money(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.0f} min"


def reaching(found: list[Visit], start: datetime, end: datetime) -> list[Visit]:
    """The visits a bill of [start, end) looks at: asked for before its end and
    not stopped before its start (the others add nothing to it)."""
    return [v for v in found if v.requested < end and (v.stopped is None or v.stopped >= start)]


def exported(
    events: list[ServerEvent], start: datetime, end: datetime, course: str | None
) -> list[ServerEvent]:
    """The period's events of `course` (every course if None), in file order."""
    return [
        e
        for e in events
        if start <= e.time < end and (course is None or (e.course or "(none)") == course)
    ]


def main(
    cfg,
    target: str,
    *,
    since_text: str = "7d",
    course: str | None = None,
    events_file: str | None = None,
    price: float | None = None,
    plot: str | None = None,
    export: str | None = None,
    now: datetime | None = None,
) -> Bill:
    now = now or utcnow()
    start = since(since_text, now)
    if start >= now:
        raise SwarmhubError(f"--since {since_text}: that is not in the past")
    path = events_path(cfg, target, events_file)
    for out, flag in ((plot, "--plot"), (export, "--export")):
        if out and not Path(out).parent.is_dir():
            raise SwarmhubError(
                f"{flag} {out}: the directory {Path(out).parent} does not exist; create it first"
            )
    events = read_events(path)
    if any(_implausible(e) for e in events):
        _refuse_implausible(path)
    try:
        fleet = read_fleet(path.with_name(FLEET_FILE))
    except ValueError as exc:
        raise SwarmhubError(str(exc)) from None
    default_mem = int(cfg.servers.mem_reservation) if cfg is not None else GIB
    b = bill(events, start, now, price=price, course=course, default_mem=default_mem, fleet=fleet)
    if course is not None and not b.courses:
        raise SwarmhubError(f"{path}: no server of course {course!r} ran in the period")
    text = table(b)
    print(text)
    if plot:
        from swarmhub.report import plot as plotting

        title = f"{course or 'every course'}: servers and nodes"
        found = visits(events)
        plotting.write(
            plot,
            b,
            title,
            text,
            course=course,
            bill_of=lambda a, z: bill(
                events,
                a,
                z,
                price=price,
                course=course,
                default_mem=default_mem,
                fleet=fleet,
                found=reaching(found, a, z),
            ),
            courses={c.name: c for c in cfg.courses} if cfg is not None else {},
            found=found,
        )
        print(f"wrote {plot}")
    if export:
        out = Path(export)
        if out.exists():
            raise SwarmhubError(f"--export {out}: exists; choose a new file")
        write_events(out, exported(events, start, now, course))
        print(f"wrote {out}: replay it with python pipeline.py simulate --replay {out}")
    return b
