"""The `report --plot x.html` page: per course, a row per day, for an instructor.

Each course gets a section: its figures (students, servers, wait, cost), the
spread of its spawn waits, and one strip per day of the period, midnight to
midnight in the course's time zone, with its class windows shaded, its
servers running and the fleet's nodes as step lines, and that day's server-
hours, node-hours, cost and wait beside it. Days with nothing on them are one
line at the end, not seven empty strips.

Inline SVG written here, no script and no external file: the page works
offline and can be pasted into a slide as is. The day's figures come from
`bill_of(start, end)`, the report's own arithmetic over the same records.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from swarmhub.autoscaler.trace import Visit
from swarmhub.report.billing import NO_COURSE, Bill, CourseBill

DAY_W, DAY_H, LEFT, RIGHT = 900, 96, 80, 290  # a day's strip: plot area + labels
SERVERS, NODES, WINDOW = "#1f77b4", "#ff7f0e", "#dcefdc"
_GREEN, _AMBER, _RED = "#4c9a2a", "#d98c1f", "#c0392b"  # a wait: < 30 s, < 2 min, longer
_WAIT_BINS = ((10, "< 10 s"), (30, "10-30 s"), (60, "30-60 s"), (120, "1-2 min"),
              (300, "2-5 min"), (float("inf"), "> 5 min"))  # fmt: skip
_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Window:
    start: datetime  # aware
    end: datetime
    label: str  # "lab 10:00-12:00"


def class_windows(course, start: datetime, end: datetime) -> list[Window]:
    """The course's windows (config.courses.Course) that meet within [start, end),
    on the dates the course applies, as aware datetimes."""
    out = []
    for w in course.windows:
        tz = ZoneInfo(w.timezone)
        first = start.astimezone(tz).date() - timedelta(days=1)
        last = end.astimezone(tz).date()
        d = first
        while d <= last:
            if _DAY_NAMES[d.weekday()] in w.days and course.start <= d <= course.end:
                a = datetime.combine(d, time.fromisoformat(w.start), tz)
                z = datetime.combine(d + timedelta(days=w.overnight), time.fromisoformat(w.end), tz)
                if a < end and z > start:
                    out.append(Window(a, z, f"{w.kind} {w.start}-{w.end}"))
            d += timedelta(days=1)
    return out


def page(
    b: Bill,
    title: str,
    table: str,
    points: Callable[[str], list[tuple[datetime, int, int]]],
    bill_of: Callable[[datetime, datetime], Bill],
    courses: dict,
    found: list[Visit],
) -> str:
    """The whole page. `points(course)`: timeline(b, course); `courses`: the
    config's Course objects by name (a course the config does not name has no
    windows and shows its days in UTC; one that met in the period but ran no
    server gets its section too, its windows and the fleet's nodes); `found`:
    the servers asked for, whose requests are marked on the strips, coloured
    by their wait."""
    days: dict[tuple[datetime, datetime], Bill] = {}

    def day_bill(a: datetime, z: datetime) -> Bill:  # courses in one zone share their days
        if (a, z) not in days:
            days[a, z] = bill_of(a, z)
        return days[a, z]

    shown = {r.course for r in b.courses}
    idle = [
        CourseBill(name, cost=None if b.price is None else 0.0)
        for name, course in sorted(courses.items())
        if name not in shown and class_windows(course, b.start, b.end)
    ]
    sections = [
        _section(r, b, points(r.course), day_bill, courses.get(r.course), found)
        for r in [*b.courses, *idle]
    ]
    price = f"${b.price:g} a node-hour" if b.price is not None else "no price given"
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p class='period'>{b.start:%a %d %b %Y %H:%M} to {b.end:%a %d %b %Y %H:%M} UTC, "
        f"{html.escape(price)}</p>"
        + _legend()
        + "\n".join(sections)
        + f"\n<h2>The table</h2><pre>{html.escape(table)}</pre>\n</body></html>\n"
    )


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1400px}"
    "h1{font-size:1.5em;margin:0 0 .2em}h2{margin:1.2em 0 .3em;font-size:1.25em}"
    "section.course{border-top:2px solid #bbb;margin-top:1.5em;padding-top:.5em}"
    ".figures{display:flex;flex-wrap:wrap;gap:.4em 1.6em;margin:.3em 0 .6em}"
    ".figures div{min-width:7em}.figures b{display:block;font-size:1.35em}"
    ".figures span{font-size:.8em;color:#666}.period,.quiet,.note{color:#555}"
    "svg{display:block}pre{font-size:12px;background:#f6f6f6;padding:.6em;white-space:pre-wrap}"
)


def _legend() -> str:
    return (
        "<p class='legend'>"
        f"<svg width='1130' height='18' role='img' aria-label='legend'>"
        f"<rect x='0' y='3' width='22' height='12' fill='{WINDOW}' stroke='#8c8'/>"
        "<text x='28' y='14' font-size='12'>class window (swarmhub.yaml)</text>"
        f"<line x1='230' y1='9' x2='252' y2='9' stroke='{SERVERS}' stroke-width='2.5'/>"
        "<text x='258' y='14' font-size='12'>the course's servers running</text>"
        f"<line x1='450' y1='9' x2='472' y2='9' stroke='{NODES}' stroke-width='2' "
        "stroke-dasharray='5,3'/>"
        "<text x='478' y='14' font-size='12'>nodes (every course's fleet)</text>"
        f"<rect x='670' y='3' width='2' height='12' fill='{_GREEN}'/>"
        f"<rect x='676' y='3' width='2' height='12' fill='{_AMBER}'/>"
        f"<rect x='682' y='3' width='2' height='12' fill='{_RED}'/>"
        "<text x='690' y='14' font-size='12'>a server asked for: waited &lt; 30 s, &lt; 2 min, "
        "longer</text>"
        f"<path d='M1015,5l8,9m0,-9l-8,9' stroke='{_RED}' stroke-width='1.8'/>"
        "<text x='1029' y='14' font-size='12'>never started</text>"
        "</svg></p>"
    )


def _section(r: CourseBill, b: Bill, points, bill_of, course, found) -> str:
    tz = ZoneInfo(course.timezone) if course is not None else ZoneInfo("UTC")
    windows = class_windows(course, b.start, b.end) if course is not None else []
    top = (max([p[1] for p in points] + [1]), max([p[2] for p in points] + [1]))
    asked = [
        v for v in found if (v.course or NO_COURSE) == r.course and b.start <= v.requested < b.end
    ]
    rows, quiet = [], []
    d = b.start.astimezone(tz).date()
    last = (b.end - timedelta(microseconds=1)).astimezone(tz).date()
    while d <= last:
        a, z = _midnight(d, tz), _midnight(d + timedelta(days=1), tz)
        mine = [w for w in windows if w.start < z and w.end > a]
        cut = _cut(points, max(a, b.start), min(z, b.end))
        spawns = [v for v in asked if a <= v.requested < z]
        if not mine and not spawns and all(p[1] == 0 for p in cut):  # nodes: any course's
            quiet.append(f"{d:%a %d %b}")
        else:
            day = bill_of(max(a, b.start), min(z, b.end))
            row = next((c for c in day.courses if c.course == r.course), None)
            rows.append(_day(d, a, z, b, cut, mine, spawns, top, row, day))
        d += timedelta(days=1)
    where = f"days in {tz.key}" + ("" if course is not None else " (not a course in swarmhub.yaml)")
    if course is not None and not course.windows:
        where += "; it has no windows in swarmhub.yaml"
    return (
        f"<section class='course' id='course-{html.escape(r.course)}'>"
        f"<h2>{html.escape(r.course)}</h2>"
        + _figures(r)
        + _waits(r)
        + f"<p class='note'>{html.escape(where)}; the same scales every day: servers 0 to "
        f"{top[0]}, nodes 0 to {top[1]}</p>"
        + "".join(rows)
        + (
            f"<p class='quiet'>No server and no class: {html.escape(', '.join(quiet))}</p>"
            if quiet
            else ""
        )
        + "</section>"
    )


def _midnight(d: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(d, time(0), tz)


def _cut(points, a: datetime, z: datetime) -> list[tuple[datetime, int, int]]:
    """The step points within [a, z], starting with the values holding at a."""
    before = [p for p in points if p[0] <= a]
    first = (a, *before[-1][1:]) if before else (a, 0, 0)
    inside = [p for p in points if a < p[0] < z]
    last = inside[-1] if inside else first
    return [first, *inside, (z, *last[1:])]


def _figures(r: CourseBill) -> str:
    items = [
        (str(r.students), "students"),
        (str(r.servers), "servers started"),
        (str(r.never_started), "never started"),
        (f"{r.server_hours:.1f}", "server-hours"),
        (f"{r.node_hours:.1f}", "node-hours (its share)"),
        ("-" if r.cost is None else f"${r.cost:.2f}", "cost"),
        ("-" if r.cost_per_student_hour is None else f"${r.cost_per_student_hour:.3f}",
         "a student-hour"),
        (_secs(r.wait_p50), "wait, median"),
        (_secs(r.wait_p95), "wait, 95th pct"),
    ]  # fmt: skip
    return (
        "<div class='figures'>"
        + "".join(
            f"<div><b>{html.escape(v)}</b><span>{html.escape(k)}</span></div>" for v, k in items
        )
        + "</div>"
    )


def _waits(r: CourseBill) -> str:
    """How long its students waited for a server: a bar per range."""
    counts = [0] * len(_WAIT_BINS)
    for w in r.waits:
        counts[next(i for i, (hi, _) in enumerate(_WAIT_BINS) if w < hi)] += 1
    most = max(counts + [1])
    bar_w, h = 80, 84
    bars = []
    for i, ((_, label), n) in enumerate(zip(_WAIT_BINS, counts, strict=True)):
        x, bh = 150 + i * (bar_w + 8), 40 * n / most
        colour = _GREEN if i < 2 else _AMBER if i < 4 else _RED
        bars.append(
            f"<rect x='{x}' y='{64 - bh:.1f}' width='{bar_w}' height='{bh:.1f}' fill='{colour}'/>"
            f"<text x='{x + bar_w / 2}' y='{60 - bh:.1f}' font-size='11' "
            f"text-anchor='middle'>{n}</text>"
            f"<text x='{x + bar_w / 2}' y='78' font-size='11' text-anchor='middle'>{label}</text>"
        )
    return (
        f"<svg class='waits' width='{150 + 6 * (bar_w + 8)}' height='{h}' role='img' "
        f"aria-label='spawn waits of {html.escape(r.course)}'>"
        "<text x='0' y='30' font-size='12'>spawn wait</text>"
        f"<text x='0' y='46' font-size='11' fill='#666'>{len(r.waits)} servers</text>"
        + "".join(bars)
        + "</svg>"
    )


def _day(d, a, z, b, cut, windows, spawns, tops, row, day) -> str:
    span = (z - a).total_seconds()
    top, nodes_top = tops  # servers on the strip's height; nodes on theirs

    def x(when: datetime) -> float:
        return LEFT + DAY_W * min(max((when - a).total_seconds(), 0), span) / span

    def y(value: int) -> float:
        return DAY_H - 26 - (DAY_H - 34) * value / top

    parts = [
        f"<rect x='{LEFT}' y='{y(top):.1f}' width='{DAY_W}' height='{y(0) - y(top):.1f}' "
        "fill='#fafafa' stroke='#ddd'/>"
    ]
    for edge, other in ((a, b.start), (b.end, z)):  # outside the period: hatched grey
        if edge < other:
            parts.append(
                f"<rect x='{x(edge):.1f}' y='{y(top):.1f}' width='{x(other) - x(edge):.1f}' "
                f"height='{y(0) - y(top):.1f}' fill='#e4e4e4'/>"
            )
    for w in windows:
        parts.append(
            f"<rect class='window' x='{x(w.start):.1f}' y='{y(top):.1f}' "
            f"width='{x(w.end) - x(w.start):.1f}' height='{y(0) - y(top):.1f}' "
            f"fill='{WINDOW}' stroke='#8c8'/>"
            f"<text x='{x(w.start) + 3:.1f}' y='{y(top) + 11:.1f}' font-size='10' "
            f"fill='#3a7a3a'>{html.escape(w.label)}</text>"
        )
    for h in range(0, 25, 3):
        at = a + timedelta(hours=h)
        parts.append(
            f"<line x1='{x(at):.1f}' y1='{y(top):.1f}' x2='{x(at):.1f}' y2='{y(0):.1f}' "
            "stroke='#e0e0e0'/>"
            f"<text x='{x(at):.1f}' y='{DAY_H - 2}' font-size='10' text-anchor='middle' "
            f"fill='#666'>{h:02d}:00</text>"
        )
    parts += [_spawn(v, x(v.requested), DAY_H - 24, a.tzinfo) for v in spawns]
    dashed = "stroke-width='1.8' stroke-dasharray='5,3'"
    parts.append(_step(cut, 2, x, lambda n: y(n * top / nodes_top), NODES, dashed))
    parts.append(_step(cut, 1, x, y, SERVERS, "stroke-width='2.5'"))
    parts.append(
        f"<text x='{LEFT - 8}' y='{y(top) + 12:.1f}' font-size='14' font-weight='bold' "
        f"text-anchor='end'>{d:%a}</text>"
        f"<text x='{LEFT - 8}' y='{y(top) + 27:.1f}' font-size='11' text-anchor='end' "
        f"fill='#666'>{d:%d %b}</text>"
        f"<text x='{LEFT + 3}' y='{y(0) - 3:.1f}' font-size='9' fill='#999'>0</text>"
        f"<text x='{LEFT + DAY_W - 3}' y='{y(top) + 10:.1f}' font-size='9' text-anchor='end' "
        f"fill='{SERVERS}'>{top} servers</text>"
        f"<text x='{LEFT + DAY_W - 3}' y='{y(top) + 20:.1f}' font-size='9' text-anchor='end' "
        f"fill='{NODES}'>{nodes_top} nodes</text>"
    )
    most = max(p[1] for p in cut)
    lines = [f"peak {most} servers, {max(p[2] for p in cut)} nodes"]
    if row is not None:
        cost = "" if row.cost is None else f", ${row.cost:.2f}"
        lines.append(f"{row.server_hours:.1f} server-h, {row.node_hours:.1f} node-h{cost}")
        failed = f", {row.never_started} failed" if row.never_started else ""
        lines.append(f"wait p50 {_secs(row.wait_p50)}, p95 {_secs(row.wait_p95)}{failed}")
    else:
        lines.append(f"no server of this course; fleet {day.total.node_hours:.1f} node-h")
    tx = LEFT + DAY_W + 10
    parts += [
        f"<text x='{tx}' y='{y(top) + 10 + 15 * i:.1f}' font-size='11'>{html.escape(t)}</text>"
        for i, t in enumerate(lines)
    ]
    return (
        f"<svg class='day' width='{LEFT + DAY_W + RIGHT}' height='{DAY_H}' role='img' "
        f"aria-label='{d:%A %Y-%m-%d}'>" + "".join(parts) + "</svg>"
    )


def _spawn(v: Visit, at: float, top: float, tz) -> str:
    """A request: a tick coloured by its wait, or a cross if it never started."""
    when = f"{v.requested.astimezone(tz):%H:%M}"
    if v.wait is None:
        return (
            f"<path class='spawn failed' d='M{at - 4:.1f},{top}l8,9m0,-9l-8,9' stroke='{_RED}' "
            f"stroke-width='1.8'><title>{when}: never started</title></path>"
        )
    return (
        f"<rect class='spawn' x='{at - 1:.1f}' y='{top}' width='2' height='9' "
        f"fill='{_wait_colour(v.wait)}'><title>{when}: waited "
        f"{_secs(v.wait)}</title></rect>"
    )


def _wait_colour(wait: float) -> str:
    return _GREEN if wait < 30 else _AMBER if wait < 120 else _RED


def _step(cut, column: int, x, y, colour: str, style: str) -> str:
    path = [f"M{x(cut[0][0]):.1f},{y(cut[0][column]):.1f}"]
    for p in cut[1:]:
        path.append(f"H{x(p[0]):.1f}V{y(p[column]):.1f}")
    return f"<path d='{''.join(path)}' fill='none' stroke='{colour}' {style}/>"


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.0f} min"
