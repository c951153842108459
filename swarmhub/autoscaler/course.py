"""A course file for the simulator, and the week of server requests it makes.

A course says when its labs are, how many students arrive and how spread out,
how long they stay, and what a node and a server cost; its `autoscaler`
section is the autoscaler configuration under test (the same model as
swarmhub.yaml's), so tuning happens in the course file, in plain sight.

Randomness is the course's own: one `seed` gives one trace, on every machine.
Arrival counts are fixed or Poisson; stays are uniform, lognormal or
exponential, and may be cut at the lab's end (`leave_by_end`).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Literal
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
    # A server outlives its student by the idle culler's timeout. Unset: the
    # hub's own (swarmhub.yaml servers.idle_timeout) when a config is simulated.
    cull_minutes: float | None = Field(default=None, ge=0)


class Session(Strict):
    """One recurring lab: about `arrivals` students on each of `days`."""

    name: str
    # These students are members of this course of swarmhub.yaml (`courses:`):
    # its windows, exams and dates apply to them as in production.
    course: str | None = None
    # The profile they ask for (default: the first they are offered).
    profile: str | None = None
    days: list[str] = Field(min_length=1)
    start: str
    length_minutes: float = Field(gt=0)
    arrivals: int = Field(ge=0)
    # fixed: exactly `arrivals` a day; poisson: a Poisson count of that mean.
    arrival_count: Literal["fixed", "poisson"] = "fixed"
    # Arrivals: from `early_minutes` before the start to `spread_minutes` after,
    # most of them right at the start (a triangular distribution).
    spread_minutes: float = Field(default=15, ge=0)
    early_minutes: float = Field(default=5, ge=0)
    # How long a student keeps working once the server runs:
    #   uniform      between stay_min_minutes and stay_max_minutes;
    #   lognormal    median stay_median_minutes, shape stay_sigma;
    #   exponential  mean stay_mean_minutes.
    # For the last two, stay_min/max_minutes (if given) clip the draw.
    stay: Literal["uniform", "lognormal", "exponential"] = "uniform"
    stay_min_minutes: float | None = Field(default=None, gt=0)
    stay_max_minutes: float | None = Field(default=None, gt=0)
    stay_median_minutes: float | None = Field(default=None, gt=0)
    stay_sigma: float = Field(default=0.5, gt=0)
    stay_mean_minutes: float | None = Field(default=None, gt=0)
    # Students leave by the lab's end (start + length_minutes) whatever their
    # stay, even if they waited for their server.
    leave_by_end: bool = False

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
        need = {
            "uniform": ("stay_min_minutes", "stay_max_minutes"),
            "lognormal": ("stay_median_minutes",),
            "exponential": ("stay_mean_minutes",),
        }[self.stay]
        for name in need:
            if getattr(self, name) is None:
                raise ValueError(f"stay: {self.stay} needs {name}")
        low, high = self.stay_min_minutes, self.stay_max_minutes
        if low is not None and high is not None and low > high:
            raise ValueError("stay_min_minutes must not exceed stay_max_minutes")
        if self.leave_by_end and self.spread_minutes >= self.length_minutes:
            raise ValueError("leave_by_end: spread_minutes must be shorter than length_minutes")
        return self

    def stay_minutes(self, rng: random.Random) -> float:
        """One student's stay, drawn from `rng`."""
        if self.stay == "uniform":
            return rng.uniform(self.stay_min_minutes, self.stay_max_minutes)
        if self.stay == "lognormal":
            value = rng.lognormvariate(math.log(self.stay_median_minutes), self.stay_sigma)
        else:
            value = rng.expovariate(1 / self.stay_mean_minutes)
        if self.stay_min_minutes is not None:
            value = max(value, self.stay_min_minutes)
        if self.stay_max_minutes is not None:
            value = min(value, self.stay_max_minutes)
        return value

    def count(self, rng: random.Random) -> int:
        """How many students come on one day."""
        if self.arrival_count == "fixed":
            return self.arrivals
        return poisson(rng, self.arrivals)


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw by Knuth's product of uniforms, in chunks of mean <= 500
    so exp(-mean) stays a normal float (the sum of Poissons is Poisson)."""
    total, left = 0, float(mean)
    for _ in range(int(mean // 500) + 1):  # bounded: one chunk per 500 of the mean
        chunk = min(left, 500.0)
        left -= chunk
        limit, product = math.exp(-chunk), rng.random()
        while product > limit:
            total += 1
            product *= rng.random()
    return total


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
    # How many weeks from week_of are simulated (a replay spans its whole file);
    # a course's sessions repeat every week.
    weeks: int = Field(default=1, ge=1, le=520)
    seed: int = 1
    node: NodeSpec
    server: ServerSpec
    # None only in a file that just describes the hub for `simulate --replay`.
    sessions: list[Session] = []
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
    once started (their stay plus the culler's delay), but is gone by `ends_by`
    (when set: the lab's end plus the culler's delay) whenever it started.
    Reserves `mem` bytes and `cpu` cores. Times are seconds since the week's start."""

    user: str
    arrival: float
    lifetime: float
    mem: int
    cpu: float
    ends_by: float | None = None
    course: str | None = None  # the swarmhub.yaml course its student is in
    profile: str | None = None  # the profile asked for
    culled: bool = True  # False: the culler's linger is the hub's, added by sim_hub

    def end_if_started(self, start: float, lifetime: float | None = None) -> float:
        """When the server goes, if it (re)starts at `start` with `lifetime` left."""
        end = start + (self.lifetime if lifetime is None else lifetime)
        return end if self.ends_by is None else min(end, max(start, self.ends_by))


def span_seconds(course: Course) -> float:
    """How long the simulation runs: the course's weeks, in seconds."""
    return course.weeks * 7 * 86400.0


def week_start(course: Course) -> datetime:
    """Monday 00:00 of `week_of` in the course's time zone, as UTC."""
    return datetime.combine(course.week_of, time(0), tzinfo=ZoneInfo(course.timezone)).astimezone(
        UTC
    )


def requests(course: Course) -> list[Request]:
    """The week's server requests, sorted by arrival; the same for every run of
    one seed. (A fixed count and uniform stays draw exactly as before Poisson
    counts and other stays existed, so old traces are unchanged.)"""
    rng = random.Random(course.seed)  # noqa: S311 - a reproducible trace, not a secret
    tz = ZoneInfo(course.timezone)
    t0 = week_start(course)
    cull = 60 * (course.server.cull_minutes or 0)
    culled = course.server.cull_minutes is not None
    mem, cpu = course.server.mem_reservation, course.server.cpu_reservation
    out = []
    for session in course.sessions:
        hh, mm = (int(x) for x in session.start.split(":"))
        for offset in range(7 * course.weeks):
            day = course.week_of + timedelta(days=offset)
            if _DAYS[day.weekday()] not in session.days:
                continue
            # Local wall time, so a lab stays at 14:00 across a DST change.
            start = datetime.combine(day, time(hh, mm), tzinfo=tz).astimezone(UTC)
            base = (start - t0).total_seconds()
            lab_end = base + 60 * session.length_minutes
            for k in range(session.count(rng)):
                window = session.early_minutes + session.spread_minutes
                arrive = base + (
                    60 * rng.triangular(-session.early_minutes, session.spread_minutes, 0)
                    if window
                    else 0.0
                )
                arrive = max(0.0, arrive)
                stay = 60 * session.stay_minutes(rng)
                ends_by = None
                if session.leave_by_end:
                    stay = min(stay, lab_end - arrive)
                    ends_by = lab_end + cull
                out.append(
                    Request(
                        f"{session.name}-{day:%a}-{k}".lower(),
                        arrive,
                        stay + cull,
                        mem,
                        cpu,
                        ends_by,
                        session.course,
                        session.profile,
                        culled,
                    )
                )
    out.sort(key=lambda r: (r.arrival, r.user))
    return out
