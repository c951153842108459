"""Replay a week through the autoscaler and report cost and waits.

    python pipeline.py simulate --course courses/intro-python-60.yaml
    python pipeline.py simulate --replay events.jsonl [--course FILE|NAME]

The week is a course's (its sessions make the requests, seeded) or a
recorded one (trace.py's events: every week from the Monday before the first
event; the course file, if given, says the node, price and policies). The
autoscaler run uses the production code: `decide()` builds the plan at every
`poll_interval` instant, `apply()` carries it out against a simulated node
pool (nodes are Ready `boot_seconds` after they are requested) and a
simulated swarm, and every server is placed with `choose_node()`. Arrivals,
departures and nodes becoming Ready happen at their exact times between
polls, so a wait is measured to the second.

On the same requests it also runs a static pool sized for the peak and the
seed's policy (ASG target tracking on average CPU, which picks its own
scale-in victims), and computes the lower bound (sim_policies.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from swarmhub.autoscaler.course import (
    Course,
    Request,
    load_course,
    requests,
    span_seconds,
    week_start,
)
from swarmhub.autoscaler.sim_hub import HubModel
from swarmhub.autoscaler.sim_policies import (
    Result,
    lower_bound,
    result_of,
    run_autoscaler,
    run_cpu_target,
    run_static,
)
from swarmhub.autoscaler.sim_world import WEEK, World
from swarmhub.config.autoscaler import AutoscalerConfig
from swarmhub.errors import SwarmhubError

__all__ = [
    "WEEK",
    "Report",
    "Result",
    "lower_bound",
    "main",
    "replay",
    "run_autoscaler",
    "run_cpu_target",
    "run_static",
    "simulate",
]

_Sim = World  # the world, by its old name
_result = result_of


@dataclass
class Recorded:
    """What the hub itself saw in a replayed file."""

    servers: int
    never_started: int
    waits: list[float] = field(default_factory=list)  # known spawn waits, seconds


@dataclass
class Report:
    course: Course
    requests: int
    bound_hours: float
    peak_nodes: int
    results: list[Result]
    source: str = ""  # "" for a course's own sessions, else where the requests came from
    recorded: Recorded | None = None
    left_out: list[str] = field(default_factory=list)  # what a replay could not place

    def table(self) -> str:
        c = self.course
        what = f"{self.source}" if self.source else f"course {c.name}"
        span = (
            f"the week of {c.week_of}" if c.weeks == 1 else f"the {c.weeks} weeks from {c.week_of}"
        )
        lines = [
            f"{what}: {self.requests} servers in {span} "
            f"({c.timezone}); node {c.node.memory / 1024**3:g} GiB / {c.node.cpus:g} CPU "
            f"at ${c.node.price_per_hour}/h, boot {c.node.boot_seconds} s; "
            f"server {c.server.mem_reservation / 1024**3:g} GiB / {c.server.cpu_reservation:g} CPU",
            f"{'policy':<28}{'node-h':>8}{'cost':>10}{'x bound':>9}"
            f"{'wait p50':>10}{'wait p95':>10}{'max':>9}{'gave up':>9}{'unserved':>9}"
            f"{'evicted':>9}{'restart max':>12}",
            f"{'lower bound':<28}{self.bound_hours:>8.1f}"
            f"{self.bound_hours * c.node.price_per_hour:>10.2f}{1:>8.2f}x"
            f"{'0 s':>10}{'0 s':>10}{'0 s':>9}{0:>9}{0:>9}{0:>9}{'-':>12}",
        ]
        for r in self.results:
            ratio = r.node_hours / self.bound_hours if self.bound_hours else float("nan")
            lines.append(
                f"{r.policy:<28}{r.node_hours:>8.1f}{r.cost:>10.2f}{ratio:>8.2f}x"
                f"{_secs(r.percentile(50)):>10}{_secs(r.percentile(95)):>10}"
                f"{_secs(max(r.waits, default=0)):>9}{r.gave_up:>9}{r.waiting_at_end:>9}"
                f"{r.evictions:>9}{_secs(max(r.restart_waits, default=None)):>12}"
            )
        if self.recorded is not None:
            rec = self.recorded
            lines.append(
                f"recorded by the hub: {rec.servers} servers, {rec.never_started} never "
                f"started; spawn wait p50 {_secs(_pct(rec.waits, 50))}, "
                f"p95 {_secs(_pct(rec.waits, 95))}"
            )
        lines.extend(self.left_out)
        return "\n".join(lines)


def _pct(values: list[float], p: float) -> float | None:
    return Result("", 0, 0, values, 0, 0).percentile(p)


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.0f} min"


def simulate(
    course: Course,
    config: AutoscalerConfig,
    trace: list[Request] | None = None,
    static_nodes: int | None = None,
    hub: HubModel | None = None,
) -> Report:
    """Every policy over `trace` (default: the course's own week). `hub`: the
    swarmhub.yaml the servers run in (course windows, exams, the culler)."""
    if trace is None:
        if not course.sessions:
            raise SwarmhubError(f"course {course.name} has no sessions: nothing to simulate")
        trace = requests(course)
    if hub is not None:
        trace = hub.sized(trace, week_start(course))
    trace = [r for r in trace if r.arrival < span_seconds(course)]
    bound, peak = lower_bound(course, trace)
    results = [
        run_autoscaler(course, trace, config, static_nodes, hub=hub),
        run_static(course, trace, peak),
        run_cpu_target(course, trace, config),
    ]
    return Report(course, len(trace), bound, peak, results)


def replay(
    path: str, course: Course | None, cfg, target: str = "local", only: str | None = None
) -> Report:
    """`simulate --replay FILE`: the recorded week through every policy.
    `only`: replay just that course's servers (by the events' course name)."""
    from swarmhub.autoscaler.sim_replay import course_for_replay, left_out, replay_requests
    from swarmhub.autoscaler.trace import read_events, visits

    events = read_events(path)
    if only is not None:
        events = [e for e in events if e.course == only]
        if not events:
            raise SwarmhubError(f"{path}: no event of course {only!r}")
    course = course_for_replay(course, events, cfg, target)
    found = visits(events)
    trace, used = replay_requests(
        found,
        week_start(course),
        course.server.mem_reservation,
        course.server.cpu_reservation,
        span_seconds(course),
    )
    config = autoscaler_config(course, cfg.autoscaler)
    hub = HubModel(cfg) if cfg is not None else None
    report = simulate(course, config, trace, static_pool_size(course, cfg, target, config), hub)
    report.source = f"replay of {path}" + (f" (course {only})" if only else "")
    report.recorded = Recorded(
        servers=len(used),
        never_started=sum(1 for v in found if v.started is None),
        waits=[v.wait for v in used if v.wait is not None],
    )
    report.left_out = left_out(found, used)
    return report


def autoscaler_config(course: Course, fallback: AutoscalerConfig) -> AutoscalerConfig:
    """The course's own autoscaler section if it has one, else swarmhub.yaml's."""
    return course.autoscaler if course.autoscaler is not None else fallback


def static_pool_size(course: Course, cfg, target: str, config: AutoscalerConfig) -> int:
    """The pool a hub without its autoscaler keeps: what deploy starts."""
    if course.autoscaler is not None or cfg is None:
        return config.min_nodes
    if target == "aws" and cfg.aws is not None:
        return max(cfg.aws.fleet.min_workers, config.min_nodes)
    return max(cfg.local.workers, config.min_nodes)


def _is_course_file(text: str) -> bool:
    from pathlib import Path

    return Path(text).is_file() or text.endswith((".yaml", ".yml", ".json"))


def main(
    cfg,
    course_path: str | None,
    target: str = "local",
    replay_path: str | None = None,
    seed: int | None = None,
) -> Report:
    """Entry point of `pipeline.py simulate`: print the table.

    With --replay, `course_path` may instead name a course of the events file
    (anything that is not a file): only its servers are replayed."""
    only = None
    if replay_path and course_path and not _is_course_file(course_path):
        only, course_path = course_path, None
    course = load_course(course_path) if course_path else None
    if course is not None and seed is not None:
        course = course.model_copy(update={"seed": seed})
    if replay_path:
        report = replay(replay_path, course, cfg, target, only=only)
    elif course is None:
        raise SwarmhubError("simulate needs --course FILE, or --replay EVENTS")
    else:
        config = autoscaler_config(course, cfg.autoscaler)
        report = simulate(
            course,
            config,
            static_nodes=static_pool_size(course, cfg, target, config),
            hub=HubModel(cfg) if cfg is not None else None,
        )
    print(report.table())
    auto = report.results[0]
    if auto.decisions:
        print(
            "autoscaler decisions: "
            + ", ".join(f"{k} {v}" for k, v in sorted(auto.decisions.items()))
        )
    return report
