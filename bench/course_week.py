"""course_week: what a class costs with the autoscaler's defaults, per course shape.

Each shape is a scenario (who arrives when, how long they stay) and the
swarmhub.yaml an instructor would have: the course with its calendar (its
meeting times as `courses[].windows`, an exam as `kind: exam`, its dates)
and an autoscaler section that is either
- `defaults`: nothing but `max_nodes` (the calendar is all the tuning), or
- `init`: what `python pipeline.py init --target aws --class-size N` writes
  (its `autoscaler:` section), with the same course added;
- `linger15`: `defaults` with `servers.idle_timeout: 900` instead of the
  culler's 3,600 s: what the culler's linger costs when students do not
  stop their servers (the scenario's stays end when the student leaves).
The simulator runs the config as production does (swarmhub.autoscaler.sim_hub:
course windows at each decision, an exam's servers at their limit, the
culler's linger). For each: node-hours against the packing bound, p95 wait,
evictions, and the wall time of the run.

    python bench/course_week.py [--shapes intro-64 mooc-180 exam-120 intro-640 ...]

No Docker, no root; one core.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from datetime import date
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from swarmhub import init  # noqa: E402
from swarmhub.autoscaler import simulate as sim  # noqa: E402
from swarmhub.autoscaler.course import Course  # noqa: E402
from swarmhub.autoscaler.sim_hub import HubModel  # noqa: E402
from swarmhub.config import parse_config  # noqa: E402

WEEK_OF = date(2025, 3, 24)
NODE = {"memory": "16G", "cpus": 4, "boot_seconds": 120, "price_per_hour": 0.1664}
SERVER = {"mem_reservation": "1G", "cpu_reservation": 0.25}  # swarmhub.yaml's defaults
PER_NODE = 16  # 1G / 0.25 CPU servers on a 16G / 4 CPU node
PER_NODE_EXAM = 4  # an exam's server reserves its limit, 2G / 1 CPU


def intro(n: int) -> tuple[list[dict], list[dict]]:
    """Two labs a week; most come in the first 20 minutes, stays long-tailed."""
    sessions = [
        {
            "name": "lab",
            "course": "c",
            "days": ["tue", "thu"],
            "start": "14:00",
            "length_minutes": 120,
            "arrivals": n,
            "early_minutes": 10,
            "spread_minutes": 20,
            "stay": "lognormal",
            "stay_median_minutes": 70,
            "stay_min_minutes": 10,
            "stay_max_minutes": 130,
        }
    ]
    windows = [{"days": ["tue", "thu"], "start": "14:00", "end": "16:00", "kind": "lab"}]
    return sessions, _need(windows, n, PER_NODE)


def mooc(n: int) -> tuple[list[dict], list[dict]]:
    """Self-paced: every day, arrivals spread over the waking hours, short stays."""
    sessions = [
        {
            "name": "self",
            "course": "c",
            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "start": "08:00",
            "length_minutes": 840,
            "arrivals": n,
            "arrival_count": "poisson",
            "early_minutes": 0,
            "spread_minutes": 780,
            "stay": "exponential",
            "stay_mean_minutes": 45,
            "stay_max_minutes": 240,
        }
    ]
    return sessions, []  # no meeting time: the calendar is its dates only


def exam(n: int) -> tuple[list[dict], list[dict]]:
    """One exam: everyone at once, for the whole exam."""
    sessions = [
        {
            "name": "exam",
            "course": "c",
            "days": ["thu"],
            "start": "10:00",
            "length_minutes": 120,
            "arrivals": n,
            "early_minutes": 5,
            "spread_minutes": 10,
            "stay_min_minutes": 100,
            "stay_max_minutes": 120,
            "leave_by_end": True,
        }
    ]
    windows = [{"days": ["thu"], "start": "10:00", "end": "12:00", "kind": "exam"}]
    return sessions, _need(windows, n, PER_NODE_EXAM)


def _need(windows: list[dict], students: int, per_node: int) -> list[dict]:
    """A meeting's nodes: the class over what one node holds (what an instructor
    knows: how many come; init's arithmetic)."""
    return [{**w, "min_nodes": math.ceil(students / per_node)} for w in windows]


SHAPES = {
    "intro-64": (intro, 64),
    "mooc-180": (mooc, 180),
    "exam-120": (exam, 120),
    "intro-640": (intro, 640),
    "intro-6400": (intro, 6400),
    "intro-10000": (intro, 10000),
}


def configs(students: int, windows: list[dict]) -> dict[str, dict]:
    """The two swarmhub.yaml of a shape, as dicts."""
    course = {
        "name": "c",
        "roster": ["ada"],  # membership comes from the scenario's course
        "timezone": "Europe/Berlin",
        "start": "2025-02-01",
        "end": "2025-06-30",
        "windows": windows,
    }
    peak = max([w["min_nodes"] for w in windows], default=0)
    max_nodes = max(4, peak + 2, math.ceil(students * 1.2 / PER_NODE))
    written = yaml.safe_load(
        init.render(target="aws", class_size=min(students, 2000), sign_in="github")
    )
    init_autoscaler = {**written["autoscaler"], "max_nodes": max_nodes}
    return {
        "defaults": {"autoscaler": {"max_nodes": max_nodes}, "courses": [course]},
        "init": {"autoscaler": init_autoscaler, "courses": [course]},
        "linger15": {
            "autoscaler": {"max_nodes": max_nodes},
            "servers": {"idle_timeout": 900},
            "courses": [course],
        },
    }


def run(name: str) -> list[dict]:
    make, students = SHAPES[name]
    sessions, windows = make(students)
    scenario = Course(
        name=name,
        timezone="Europe/Berlin",
        week_of=WEEK_OF,
        seed=7,
        node=NODE,
        server=SERVER,
        sessions=sessions,
    )
    rows = []
    for variant, raw in configs(students, windows).items():
        cfg = parse_config(raw, f"{name}-{variant}.yaml")
        started = time.perf_counter()
        report = sim.simulate(scenario, cfg.autoscaler, hub=HubModel(cfg))
        wall = time.perf_counter() - started
        auto = report.results[0]
        rows.append(
            {
                "shape": name,
                "config": variant,
                "servers": report.requests,
                "node_hours": auto.node_hours,
                "bound": report.bound_hours,
                "ratio": auto.node_hours / report.bound_hours,
                "p95": auto.percentile(95) or 0.0,
                "evictions": auto.evictions,
                "unserved": auto.waiting_at_end + auto.gave_up,
                "wall": wall,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    args = parser.parse_args()
    print(
        f"{'shape':<13}{'config':<10}{'servers':>8}{'node-h':>9}{'bound':>9}{'x bound':>9}"
        f"{'p95 wait':>10}{'evicted':>9}{'unserved':>9}{'wall':>8}"
    )
    for name in args.shapes:
        for r in run(name):
            print(
                f"{r['shape']:<13}{r['config']:<10}{r['servers']:>8}{r['node_hours']:>9.1f}"
                f"{r['bound']:>9.1f}{r['ratio']:>8.2f}x{r['p95']:>8.0f} s{r['evictions']:>9}"
                f"{r['unserved']:>9}{r['wall']:>7.1f}s",
                flush=True,
            )


if __name__ == "__main__":
    main()
