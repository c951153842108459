"""A course file for the simulator, and the week of server requests it makes.

A course says when its labs are, how many students arrive and how spread out,
how long they stay, and what a node and a server cost; its `autoscaler`
section is the autoscaler configuration under test (the same model as
swarmhub.yaml's), so tuning happens in the course file, in plain sight.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, ValidationError, field_validator, model_validator

from swarmhub.config.autoscaler import _DAYS, _HHMM, AutoscalerConfig, weekdays
from swarmhub.config.types import Bytes, Strict
from swarmhub.errors import SwarmhubError


class NodeSpec(Strict):
    memory: Bytes
    cpus: float = Field(gt=0)
    boot_seconds: int = Field(default=60, ge=0)
    price_per_hour: float = Field(ge=0, description="USD per node-hour")


class ServerSpec(Strict):
    mem_reservation: Bytes
    cpu_reservation: float = Field(gt=0)
    # A server outlives its student by the idle culler's timeout.
    cull_minutes: float = Field(default=0, ge=0)


class Session(Strict):
    """One recurring lab: `arrivals` students on each of `days`."""

    name: str
    days: list[str] = Field(min_length=1)
    start: str
    length_minutes: float = Field(gt=0)
    arrivals: int = Field(ge=0)
    # Arrivals: from `early_minutes` before the start to `spread_minutes` after,
    # most of them right at the start (a triangular distribution).
    spread_minutes: float = Field(default=15, ge=0)
    early_minutes: float = Field(default=5, ge=0)
    # How long a student keeps working once the server runs (uniform).
    stay_min_minutes: float = Field(gt=0)
    stay_max_minutes: float = Field(gt=0)

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        return weekdays(value)

    @field_validator("start")
    @classmethod
    def _time(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"'{value}' is not a time of day HH:MM")
        return value

    @model_validator(mode="after")
    def _stay(self) -> Session:
        if self.stay_min_minutes > self.stay_max_minutes:
            raise ValueError("stay_min_minutes must not exceed stay_max_minutes")
        return self


class CpuPolicySpec(Strict):
    """The seed's policy for comparison: ASG target tracking on average CPU,
    with students' CPU use bursty and low while they hold their memory."""

    target: float = Field(default=0.6, gt=0, le=1)
    min_nodes: int = Field(default=1, ge=1)
    idle_cores: float = Field(default=0.02, ge=0)  # a server nobody is running code in
    busy_cores: float = Field(default=1.0, ge=0)  # a cell executing
    busy_fraction: float = Field(default=0.15, ge=0, le=1)
    # A student who gets no server within this long gives up (their wait counts as this).
    give_up_minutes: float = Field(default=30, gt=0)


class Course(Strict):
    name: str
    timezone: str = "UTC"
    week_of: date = date(2025, 3, 24)  # a Monday; this one has Europe's DST change in it
    seed: int = 1
    step_seconds: int = Field(default=10, gt=0)
    node: NodeSpec
    server: ServerSpec
    sessions: list[Session] = Field(min_length=1)
    autoscaler: AutoscalerConfig | None = None
    cpu_policy: CpuPolicySpec = CpuPolicySpec()

    @field_validator("week_of")
    @classmethod
    def _monday(cls, value: date) -> date:
        if value.weekday() != 0:
            raise ValueError(f"{value} is not a Monday")
        return value

    @model_validator(mode="after")
    def _fits(self) -> Course:
        if self.server.mem_reservation > self.node.memory:
            raise ValueError("server.mem_reservation is larger than node.memory")
        if self.server.cpu_reservation > self.node.cpus:
            raise ValueError("server.cpu_reservation is larger than node.cpus")
        return self


def load_course(path: str | Path) -> Course:
    """Read and validate a course file; one SwarmhubError naming file and field."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise SwarmhubError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SwarmhubError(f"{path}: invalid YAML: {exc}") from None
    try:
        return Course.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        msg = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise SwarmhubError(f"{path}: {where}: {msg.removeprefix('Value error, ')}") from None


@dataclass(frozen=True)
class Request:
    """One student's server: asked for at `arrival`, runs `lifetime` seconds
    once started (their stay plus the culler's delay)."""

    user: str
    arrival: float  # seconds since the start of the week
    lifetime: float


def week_start(course: Course) -> datetime:
    """Monday 00:00 of `week_of` in the course's time zone, as UTC."""
    return datetime.combine(course.week_of, time(0), tzinfo=ZoneInfo(course.timezone)).astimezone(
        UTC
    )


def requests(course: Course) -> list[Request]:
    """The week's server requests, sorted by arrival; the same for every seed run."""
    rng = random.Random(course.seed)  # noqa: S311 - a reproducible trace, not a secret
    tz = ZoneInfo(course.timezone)
    t0 = week_start(course)
    out = []
    for session in course.sessions:
        hh, mm = (int(x) for x in session.start.split(":"))
        for offset in range(7):
            day = course.week_of + timedelta(days=offset)
            if _DAYS[day.weekday()] not in session.days:
                continue
            # Local wall time, so a lab stays at 14:00 across a DST change.
            start = datetime.combine(day, time(hh, mm), tzinfo=tz).astimezone(UTC)
            base = (start - t0).total_seconds()
            for k in range(session.arrivals):
                window = session.early_minutes + session.spread_minutes
                arrive = base + (
                    60 * rng.triangular(-session.early_minutes, session.spread_minutes, 0)
                    if window
                    else 0.0
                )
                stay = 60 * rng.uniform(session.stay_min_minutes, session.stay_max_minutes)
                out.append(
                    Request(
                        f"{session.name}-{day:%a}-{k}".lower(),
                        max(0.0, arrive),
                        stay + 60 * course.server.cull_minutes,
                    )
                )
    out.sort(key=lambda r: (r.arrival, r.user))
    return out
