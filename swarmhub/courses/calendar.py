"""A class's calendar: the schedule floor, course windows, exams.

The schedule floor: at least N nodes during known busy windows.

A window "tue 14:00-17:00 Europe/Berlin, 6 nodes" is read in its own time
zone, so it stays at 14:00 local across daylight-saving changes. It takes
effect `lead_seconds` (the node boot time) before its start, so the nodes are
Ready when the first student arrives instead of being requested then.
A window whose end is not after its start runs past midnight.

Course windows (`courses[].windows`) join `autoscaler.schedule` through
`with_courses()` at each decision, while their course applies.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from swarmhub.config.autoscaler import AutoscalerConfig, BusyWindow
from swarmhub.config.courses import Course, CourseWindow, course_windows

if TYPE_CHECKING:
    from swarmhub.config import Config

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def window_active(window: BusyWindow, now: datetime, lead_seconds: float) -> bool:
    """Whether `now` (aware) is within [start - lead, end) of one of the window's days."""
    tz = _zone(window.timezone)
    local = now.astimezone(tz)
    start_t, end_t = _hhmm(window.start), _hhmm(window.end)
    lead = timedelta(seconds=lead_seconds)
    # Yesterday's window may run past midnight; tomorrow's may start within the lead.
    for offset in (-1, 0, 1):
        day = local.date() + timedelta(days=offset)
        if _DAYS[day.weekday()] not in window.days:
            continue
        # datetime.combine with a ZoneInfo resolves the day's own UTC offset (DST).
        # Then to UTC before subtracting the lead: aware arithmetic within one
        # zone is wall-clock arithmetic, wrong across a DST change.
        start = datetime.combine(day, start_t, tzinfo=tz).astimezone(UTC)
        end_day = day if end_t > start_t else day + timedelta(days=1)
        end = datetime.combine(end_day, end_t, tzinfo=tz).astimezone(UTC)
        if start - lead <= now < end:
            return True
    return False


def schedule_floor(
    windows: list[BusyWindow], now: datetime, lead_seconds: float
) -> tuple[int, BusyWindow | None]:
    """The largest `min_nodes` of the windows in effect at `now`, and that window."""
    best, which = 0, None
    for window in windows:
        if window.min_nodes > best and window_active(window, now, lead_seconds):
            best, which = window.min_nodes, window
    return best, which


def describe(window: BusyWindow) -> str:
    return f"{','.join(window.days)} {window.start}-{window.end} {window.timezone}"


def occurrences(
    window: BusyWindow, t0: datetime, span_seconds: float, lead_seconds: float = 0.0
) -> list[tuple[datetime, datetime]]:
    """Each (start - lead, end) of `window`, in UTC, that overlaps [t0, t0 + span]."""
    tz = _zone(window.timezone)
    start_t, end_t = _hhmm(window.start), _hhmm(window.end)
    lead = timedelta(seconds=lead_seconds)
    t_end = t0 + timedelta(seconds=span_seconds)
    first = t0.astimezone(tz).date() - timedelta(days=1)
    days = int(span_seconds // 86400) + 3  # a day either side, and one for the lead
    out = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        if _DAYS[day.weekday()] not in window.days:
            continue
        start = datetime.combine(day, start_t, tzinfo=tz).astimezone(UTC) - lead
        end_day = day if end_t > start_t else day + timedelta(days=1)
        end = datetime.combine(end_day, end_t, tzinfo=tz).astimezone(UTC)
        if end > t0 and start < t_end:
            out.append((start, end))
    return out


def window_edges(
    windows: list[BusyWindow], t0: datetime, span_seconds: float, lead_seconds: float
) -> list[float]:
    """Every instant (seconds from `t0`, within the span) where the schedule floor
    may change: each window's start less the lead, and its end. For the simulator,
    which need not decide between two edges when nothing else happens."""
    edges = set()
    for window in windows:
        for start, end in occurrences(window, t0, span_seconds, lead_seconds):
            for edge in (start, end):
                seconds = (edge - t0).total_seconds()
                if 0 <= seconds <= span_seconds:
                    edges.add(seconds)
    return sorted(edges)


def busy_windows(config: Config, now: datetime) -> list[BusyWindow]:
    """One place says when a class meets: autoscaler.schedule and the windows of
    every course that applies at `now` (a course past its end date adds none)."""
    return [*config.autoscaler.schedule, *course_windows(config.courses, now)]


def exam_window(course: Course, now: datetime) -> CourseWindow | None:
    """The course's exam window on at `now`, if any (the course applying is the
    caller's question: see membership.membership)."""
    for w in course.windows:
        if w.kind == "exam" and window_active(w, now, 0):
            return w
    return None


def date_edges(courses: list[Course], t0: datetime, span_seconds: float) -> list[float]:
    """Every instant (seconds from `t0`, within the span) where a course starts or
    ends applying: midnight of its start day and of the day after its end, in its
    zone. With `window_edges`, where what the calendar says may change."""
    out = set()
    for c in courses:
        tz = _zone(c.timezone)
        for day in (c.start, c.end + timedelta(days=1)):
            seconds = (datetime.combine(day, time(0), tzinfo=tz) - t0).total_seconds()
            if 0 <= seconds <= span_seconds:
                out.add(seconds)
    return sorted(out)


def with_courses(config: Config, now: datetime) -> AutoscalerConfig:
    """The autoscaler's config with the course windows in its schedule, as decide()
    reads it; built at each decision, so an ended course stops at its end date."""
    return schedule_with(config.autoscaler, config.courses, now)


def schedule_with(
    autoscaler: AutoscalerConfig, courses: list[Course], now: datetime
) -> AutoscalerConfig:
    """`autoscaler` with the windows of the `courses` that apply at `now` added to
    its schedule (production's autoscaler section, or a simulation's own)."""
    if not courses:
        return autoscaler
    windows = [*autoscaler.schedule, *course_windows(courses, now)]
    return autoscaler.model_copy(update={"schedule": windows})
