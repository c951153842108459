"""The simulator's shortcuts change nothing: skipping polls whose decision
provably repeats gives the run of deciding at every poll."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarmhub.autoscaler import simulate as sim
from swarmhub.autoscaler.course import Course, Request, load_course, requests
from swarmhub.config.autoscaler import AutoscalerConfig

REPO = Path(__file__).resolve().parents[2]


def tiny_course() -> Course:
    return Course(
        name="edges",
        timezone="Europe/Berlin",
        seed=3,
        node={"memory": "8G", "cpus": 2, "boot_seconds": 45, "price_per_hour": 1.0},
        server={"mem_reservation": "3G", "cpu_reservation": 0.5, "cull_minutes": 7},
        sessions=[
            {
                "name": "a",
                "days": ["mon", "wed", "sun"],
                "start": "09:07",
                "length_minutes": 95,
                "arrivals": 23,
                "arrival_count": "poisson",
                "early_minutes": 11,
                "spread_minutes": 41,
                "stay": "lognormal",
                "stay_median_minutes": 50,
                "stay_sigma": 0.8,
                "leave_by_end": True,
            },
            {
                "name": "b",
                "days": ["tue", "sun"],
                "start": "23:40",
                "length_minutes": 60,
                "arrivals": 7,
                "spread_minutes": 30,
                "stay": "exponential",
                "stay_mean_minutes": 25,
            },
        ],
    )


CONFIGS = [
    AutoscalerConfig(
        min_nodes=0,
        max_nodes=6,
        headroom_slots=1,
        scale_in_cooldown=130,
        scale_out_cooldown=37,
        node_boot_seconds=45,
        poll_interval=7,
        schedule=[
            {
                "days": ["mon", "wed"],
                "start": "09:00",
                "end": "09:20",
                "timezone": "Europe/Berlin",
                "min_nodes": 3,
            },
            {
                "days": ["sun"],
                "start": "23:30",
                "end": "00:10",
                "overnight": True,
                "timezone": "UTC",
                "min_nodes": 1,
            },
        ],
    ),
    AutoscalerConfig(
        min_nodes=1,
        max_nodes=3,
        headroom_slots=2,
        scale_in_cooldown=0,
        scale_out_cooldown=0,
        node_boot_seconds=0,
        poll_interval=30,
    ),
]


def _same(a: sim.Result, b: sim.Result) -> None:
    assert a.decisions == b.decisions
    assert a.waits == b.waits
    assert a.node_hours == pytest.approx(b.node_hours, abs=1e-9)
    assert (a.evictions, a.gave_up, a.waiting_at_end) == (b.evictions, b.gave_up, b.waiting_at_end)


@pytest.mark.parametrize("config", CONFIGS, ids=["schedule", "tight"])
def test_skipping_polls_gives_the_run_of_deciding_at_every_poll(config):
    course = tiny_course()
    trace = requests(course)
    fast = sim.run_autoscaler(course, trace, config)
    full = sim.run_autoscaler(course, trace, config, every_poll=True)
    _same(fast, full)
    assert fast.decide_calls < full.decide_calls


@pytest.mark.parametrize("name", ["intro-python-60", "research-group"])
def test_skipping_polls_on_the_shipped_courses(name):
    course = load_course(REPO / "courses" / f"{name}.yaml")
    trace = requests(course)
    fast = sim.run_autoscaler(course, trace, course.autoscaler)
    full = sim.run_autoscaler(course, trace, course.autoscaler, every_poll=True)
    _same(fast, full)
    assert fast.decide_calls * 10 < full.decide_calls


def test_a_cooldown_that_ends_while_nothing_happens_is_not_skipped():
    # Boots are slow: after the third arrival the plan is to hold (cooldown),
    # and the cooldown's end is the only thing that happens before a node is
    # Ready; then the headroom is ordered.
    course = tiny_course().model_copy(
        update={"node": tiny_course().node.model_copy(update={"boot_seconds": 600})}
    )
    trace = [
        Request(u, 36000.0 + dt, 3600.0, 3 * 1024**3, 0.5)
        for u, dt in (("a", 0), ("b", 20), ("c", 21))
    ]
    config = AutoscalerConfig(
        min_nodes=0,
        headroom_slots=2,
        scale_out_cooldown=60,
        node_boot_seconds=600,
        poll_interval=10,
        scale_in_cooldown=0,
    )
    fast = sim.run_autoscaler(course, trace, config)
    full = sim.run_autoscaler(course, trace, config, every_poll=True)
    assert full.decisions.get("hold", 0) > 0
    _same(fast, full)
