"""Server start and stop events, one JSON object a line (JSON Lines).

The hub writes them as servers come and go, `report` exports a week of them,
and `simulate --replay FILE` replays them through the autoscaler:

    {"time": "2025-03-25T13:02:11.250000Z", "event": "spawn_requested", "user": "ada",
     "course": "intro-python", "profile": "default", "mem_reservation": 2147483648,
     "cpu_reservation": 0.5, "spawn_wait_seconds": null, "node": null, "reason": null}

- time: ISO-8601, UTC (`Z` or `+00:00`); an offset other than zero is refused.
- event: spawn_requested (the student asked), server_started (it answers),
  server_stopped (stopped by the student, the culler or an admin).
- user; course and profile (null when none applies).
- mem_reservation (bytes) and cpu_reservation (cores): the server's, null
  when unknown (the replay then uses the course's `server` sizes).
- spawn_wait_seconds: on server_started, request to answer, when known.
- node: the swarm node id the server ran on (server_started, server_stopped).
- reason: on server_stopped, why: user (the student or an admin stopped it),
  culled (idle), lost (its node went down), failed (it never started, or
  exited by itself); null when unknown.

Files written before `node` and `reason` existed still read: a missing key
is null.

Every key is written on every line, null when unknown. A reader error names
the file and the line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

from swarmhub.errors import SwarmhubError

EVENTS = ("spawn_requested", "server_started", "server_stopped")
REASONS = ("user", "culled", "lost", "failed")
_FIELDS = (
    "time",
    "event",
    "user",
    "course",
    "profile",
    "mem_reservation",
    "cpu_reservation",
    "spawn_wait_seconds",
    "node",
    "reason",
)


@dataclass(frozen=True)
class ServerEvent:
    time: datetime  # aware, UTC
    event: str
    user: str
    course: str | None = None
    profile: str | None = None
    mem_reservation: int | None = None
    cpu_reservation: float | None = None
    spawn_wait_seconds: float | None = None
    node: str | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.event not in EVENTS:
            raise ValueError(f"event must be one of {', '.join(EVENTS)} (got {self.event!r})")
        if self.time.utcoffset() != timedelta(0):
            raise ValueError("time must be in UTC")
        if not self.user:
            raise ValueError("user must not be empty")
        for name in ("mem_reservation", "cpu_reservation", "spawn_wait_seconds"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value < 0):
                raise ValueError(f"{name} must be a number >= 0")
        if self.reason is not None and self.reason not in REASONS:
            raise ValueError(f"reason must be one of {', '.join(REASONS)} (got {self.reason!r})")

    def to_json(self) -> str:
        data = asdict(self)
        data["time"] = self.time.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return json.dumps(data, separators=(", ", ": "))

    @classmethod
    def from_json(cls, line: str) -> ServerEvent:
        data = json.loads(line)
        if not isinstance(data, dict):
            raise ValueError("a line must be a JSON object")
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise ValueError(f"unknown key {unknown[0]!r}")
        for name in ("time", "event", "user"):
            if not isinstance(data.get(name), str):
                raise ValueError(f"{name} is missing or not a string")
        when = datetime.fromisoformat(data["time"].replace("Z", "+00:00"))
        if when.tzinfo is None:
            raise ValueError("time has no UTC offset")
        mem = data.get("mem_reservation")
        if mem is not None and (not isinstance(mem, int) or isinstance(mem, bool)):
            raise ValueError("mem_reservation must be a whole number of bytes")
        return cls(
            time=when,
            event=data["event"],
            user=data["user"],
            course=data.get("course"),
            profile=data.get("profile"),
            mem_reservation=mem,
            cpu_reservation=_number(data, "cpu_reservation"),
            spawn_wait_seconds=_number(data, "spawn_wait_seconds"),
            node=_text(data, "node"),
            reason=_text(data, "reason"),
        )


def _number(data: dict, name: str) -> float | None:
    value = data.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ValueError(f"{name} must be a number")
    return None if value is None else float(value)


def _text(data: dict, name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value


def write_events(out: str | Path | IO[str], events: Iterable[ServerEvent]) -> None:
    """Append `events` to a file (path or open text file), one line each."""
    if isinstance(out, str | Path):
        with open(out, "a", encoding="utf-8") as f:
            write_events(f, events)
        return
    for e in events:
        out.write(e.to_json() + "\n")


def read_events(path: str | Path) -> list[ServerEvent]:
    """Every event of the file, in time order (a stable sort: same-instant
    events keep the file's order); blank lines are skipped."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SwarmhubError(f"{path}: cannot read: {exc.strerror}") from None
    out = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(ServerEvent.from_json(line))
        except (ValueError, TypeError) as exc:
            raise SwarmhubError(f"{path}:{number}: {exc}") from None
    out.sort(key=lambda e: e.time)
    return out


@dataclass(frozen=True)
class Visit:
    """One server's life, paired from its events."""

    user: str
    course: str | None
    profile: str | None
    mem: int | None
    cpu: float | None
    requested: datetime
    started: datetime | None  # None: it never started (refused, cancelled, gone)
    stopped: datetime | None  # None: still running when the file ends
    node: str | None = None
    reason: str | None = None  # why it stopped (REASONS), when the stop said

    @property
    def wait(self) -> float | None:
        if self.started is None:
            return None
        return (self.started - self.requested).total_seconds()


def visits(events: Iterable[ServerEvent]) -> list[Visit]:
    """Pair each user's request, start and stop, in time order. A start without
    a request was requested `spawn_wait_seconds` earlier (or at the start); a
    stop without a start is a request that never started."""
    open_: dict[str, dict] = {}
    out: list[Visit] = []

    def close(user: str, stopped: datetime | None, stop: ServerEvent | None = None) -> None:
        v = open_.pop(user)
        if stop is not None:
            v["reason"] = stop.reason
            v["node"] = v["node"] or stop.node
        out.append(Visit(stopped=stopped, **v))

    for e in events:
        v = open_.get(e.user)
        if e.event == "spawn_requested":
            if v is not None and v["started"] is not None:
                close(e.user, e.time)  # a new request implies the old server is gone
                v = None
            if v is None:
                open_[e.user] = _visit(e, e.time)
        elif e.event == "server_started":
            if v is not None and v["started"] is not None:
                close(e.user, e.time)
                v = None
            if v is None:
                wait = timedelta(seconds=e.spawn_wait_seconds or 0.0)
                v = open_[e.user] = _visit(e, e.time - wait)
            v["started"] = e.time
            v["mem"] = e.mem_reservation if e.mem_reservation is not None else v["mem"]
            v["cpu"] = e.cpu_reservation if e.cpu_reservation is not None else v["cpu"]
            v["node"] = e.node or v["node"]
        elif v is not None:  # server_stopped
            close(e.user, e.time, e)
    for user in list(open_):
        close(user, None)
    out.sort(key=lambda v: (v.requested, v.user))
    return out


def _visit(e: ServerEvent, requested: datetime) -> dict:
    return {
        "user": e.user,
        "course": e.course,
        "profile": e.profile,
        "mem": e.mem_reservation,
        "cpu": e.cpu_reservation,
        "requested": requested,
        "started": None,
        "node": e.node,
    }


def monday_of(when: datetime, timezone: str) -> date:
    """The Monday (in `timezone`) of the week `when` falls in."""
    local = when.astimezone(ZoneInfo(timezone)).date()
    return local - timedelta(days=local.weekday())
