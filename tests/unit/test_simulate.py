"""The course simulator: the shipped courses, the lower bound, evictions."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from swarmhub.autoscaler import simulate as sim
from swarmhub.autoscaler.course import Course, load_course, requests
from swarmhub.config.autoscaler import AutoscalerConfig
from swarmhub.errors import SwarmhubError

REPO = Path(__file__).resolve().parents[2]
COURSES = sorted((REPO / "courses").glob("*.yaml"))


def test_both_example_courses_are_shipped():
    assert {p.name for p in COURSES} >= {"intro-python-60.yaml", "research-group.yaml"}


@functools.cache
def simulated(path: Path) -> sim.Report:
    course = load_course(path)
    return sim.simulate(course, course.autoscaler or AutoscalerConfig())


@pytest.fixture(params=COURSES, ids=lambda p: p.stem)
def report(request) -> sim.Report:
    return simulated(request.param)


def test_autoscaler_never_evicts(report):
    auto = report.results[0]
    assert auto.policy == "autoscaler"
    assert auto.evictions == 0
    assert auto.gave_up == 0


def test_report_numbers_are_consistent(report):
    c = report.course
    assert report.bound_hours > 0 and report.peak_nodes >= 1
    for r in report.results:
        assert len(r.waits) == report.requests
        assert r.cost == pytest.approx(r.node_hours * c.node.price_per_hour)
        assert 0 <= r.percentile(50) <= r.percentile(95) <= max(r.waits)
        # Nothing beats perfect packing with zero wait... except refusing users.
        if r.gave_up == 0 and r.evictions == 0:
            assert r.node_hours >= report.bound_hours - 1e-6
    auto, static, cpu = report.results
    # A static pool of the peak runs all week and never makes anyone wait.
    assert static.node_hours == pytest.approx(report.peak_nodes * 168)
    assert max(static.waits) == 0
    assert auto.node_hours < static.node_hours
    poll = c.autoscaler.poll_interval
    assert sum(auto.decisions.values()) == math.floor(sim.WEEK / poll) + 1
    table = report.table()
    assert table.count("\n") == 5
    assert f"{auto.node_hours:.1f}" in table


def test_intro_course_meets_its_aim():
    """What the shipped tuning achieves (figures in docs/autoscaler.md)."""
    report = simulated(REPO / "courses" / "intro-python-60.yaml")
    auto = report.results[0]
    assert auto.node_hours <= 1.2 * report.bound_hours
    assert auto.percentile(95) < 60


def tiny(node_mem: str = "16G", mem: str = "2G", **session) -> Course:
    """A one-session course: 9 servers of `mem` for exactly an hour on `node_mem` nodes."""
    base = dict(
        name="lab",
        days=["mon"],
        start="10:00",
        length_minutes=60,
        arrivals=9,
        early_minutes=0,
        spread_minutes=0,
        stay_min_minutes=60,
        stay_max_minutes=60,
    )
    base.update(session)
    return Course(
        name="tiny",
        node={"memory": node_mem, "cpus": 4, "boot_seconds": 60, "price_per_hour": 1.0},
        server={"mem_reservation": mem, "cpu_reservation": 0.5},
        sessions=[base],
    )


def test_lower_bound_by_hand():
    course = tiny()  # 9 servers for exactly an hour, 8 per node -> 2 nodes for 1 h
    trace = requests(course)
    assert [r.arrival for r in trace] == [10 * 3600] * 9
    assert sim.lower_bound(course, trace) == (2.0, 2)


def test_burst_from_zero_waits_one_boot():
    course = tiny()
    r = sim.run_autoscaler(course, requests(course), AutoscalerConfig(min_nodes=0))
    # Nobody is there before 10:00: every one of them waits for a node to boot.
    assert r.waits == [60.0] * 9
    assert r.evictions == 0
    # Two nodes, each billed for its boot, the hour of work and the 10-minute
    # scale-in cooldown (the default) once empty.
    assert r.node_hours == pytest.approx(2 * (60 + 1 + 10) / 60)


def test_schedule_ahead_removes_the_wait():
    course = tiny()
    cfg = AutoscalerConfig(
        min_nodes=0,
        node_boot_seconds=60,
        schedule=[{"days": ["mon"], "start": "10:00", "end": "10:05", "min_nodes": 2}],
    )
    r = sim.run_autoscaler(course, requests(course), cfg)
    assert r.waits == [0.0] * 9


def test_evictions_are_counted():
    """The counter that must stay 0 does count: remove a node under a server."""
    course = tiny(arrivals=1)
    world = sim._Sim(course, requests(course))
    world.launch(1, boot=0)
    world.run_until(10 * 3600 + 1)
    (node,) = world.nodes.values()
    assert len(node.servers) == 1
    world.remove(node)
    assert world.evictions == 1
    assert world.pending() == 1  # the student must start again


def test_bad_course_file_is_one_clear_error(tmp_path):
    path = tmp_path / "c.yaml"
    data = yaml.safe_load((REPO / "courses" / "intro-python-60.yaml").read_text())
    data["node"]["colour"] = "blue"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SwarmhubError, match=r"c.yaml: node.colour: unknown key"):
        load_course(path)


def test_cli_prints_the_table(tmp_path, monkeypatch):
    from swarmhub.cli import main

    monkeypatch.chdir(tmp_path)  # no swarmhub.yaml here: defaults apply
    result = CliRunner().invoke(
        main, ["simulate", "--course", str(REPO / "courses" / "research-group.yaml")]
    )
    assert result.exit_code == 0, result.output
    assert "lower bound" in result.output and "autoscaler decisions:" in result.output


def test_cli_seed_draws_another_week(tmp_path, monkeypatch):
    from swarmhub.cli import main

    monkeypatch.chdir(tmp_path)
    path = str(REPO / "courses" / "data-lab-poisson.yaml")
    runs = [
        CliRunner().invoke(main, ["simulate", "--course", path, *extra]).output
        for extra in ([], ["--seed", "11"], ["--seed", "12"])
    ]
    assert runs[0] == runs[1]  # the file's own seed is 11
    assert runs[0].splitlines()[0] != runs[2].splitlines()[0]  # another count of servers
