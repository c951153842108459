"""Recorded server events: the format, its pairing into visits, and a replay
of a generated week through the same policies as a course's."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from swarmhub.autoscaler import simulate as sim
from swarmhub.autoscaler.course import Course, requests, week_start
from swarmhub.autoscaler.sim_replay import events_from_requests, replay_requests
from swarmhub.autoscaler.trace import ServerEvent, read_events, visits, write_events
from swarmhub.config import Config
from swarmhub.errors import SwarmhubError

GIB = 1024**3
T = datetime(2025, 3, 25, 13, 0, tzinfo=UTC)


def course(**extra) -> Course:
    return Course(
        name="lab",
        timezone="Europe/Berlin",
        node={"memory": "16G", "cpus": 4, "boot_seconds": 60, "price_per_hour": 0.25},
        server={"mem_reservation": "2G", "cpu_reservation": 0.5, "cull_minutes": 10},
        sessions=[
            {
                "name": "tue",
                "days": ["tue", "thu"],
                "start": "14:00",
                "length_minutes": 120,
                "arrivals": 30,
                "early_minutes": 10,
                "spread_minutes": 15,
                "stay": "lognormal",
                "stay_median_minutes": 80,
            }
        ],
        autoscaler={"min_nodes": 0, "max_nodes": 8, "headroom_slots": 1, "poll_interval": 10},
        **extra,
    )


def ev(minutes: float, event: str, user: str = "ada", **kw) -> ServerEvent:
    return ServerEvent(time=T + timedelta(minutes=minutes), event=event, user=user, **kw)


def test_an_event_is_one_json_line_with_every_key():
    e = ev(
        0,
        "server_started",
        mem_reservation=2 * GIB,
        cpu_reservation=0.5,
        spawn_wait_seconds=8.5,
        course="intro",
        profile="default",
    )
    line = e.to_json()
    data = json.loads(line)
    assert data["time"] == "2025-03-25T13:00:00Z"
    assert set(data) == {
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
    }
    assert ServerEvent.from_json(line) == e
    bare = json.loads(ev(0, "spawn_requested").to_json())
    assert bare["spawn_wait_seconds"] is None and bare["course"] is None


def test_write_appends_and_read_sorts_by_time(tmp_path):
    path = tmp_path / "events.jsonl"
    write_events(path, [ev(5, "server_started")])
    write_events(path, [ev(1, "spawn_requested")])
    buffer = io.StringIO()
    write_events(buffer, [ev(9, "server_stopped")])
    path.write_text(path.read_text() + "\n" + buffer.getvalue())
    assert [e.event for e in read_events(path)] == [
        "spawn_requested",
        "server_started",
        "server_stopped",
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"time": "2025-03-25T13:00:00Z", "event": "spawned", "user": "a"}', "event must be"),
        ('{"time": "2025-03-25T14:00:00+01:00", "event": "server_started", "user": "a"}', "UTC"),
        ('{"time": "2025-03-25T13:00:00", "event": "server_started", "user": "a"}', "offset"),
        (
            '{"time": "2025-03-25T13:00:00Z", "event": "server_started", "user": "a", "x": 1}',
            "unknown key 'x'",
        ),
        (
            '{"time": "2025-03-25T13:00:00Z", "event": "server_started", "user": "a", '
            '"mem_reservation": 1.5}',
            "whole number",
        ),
        ("not json", "Expecting value"),
    ],
)
def test_a_bad_line_is_named_by_file_and_line(tmp_path, line, message):
    path = tmp_path / "e.jsonl"
    path.write_text(ev(0, "spawn_requested").to_json() + "\n" + line + "\n")
    with pytest.raises(SwarmhubError, match=rf"e.jsonl:2: .*{message}"):
        read_events(path)


def test_visits_pair_requests_starts_and_stops():
    found = visits(
        [
            ev(0, "spawn_requested"),
            ev(0.5, "server_started", spawn_wait_seconds=30),
            ev(60, "server_stopped"),
            # A start with no request: requested its wait earlier.
            ev(10, "server_started", user="bob", spawn_wait_seconds=12, mem_reservation=GIB),
            # A request that never started (refused, cancelled).
            ev(20, "spawn_requested", user="cy"),
            ev(25, "server_stopped", user="cy"),
            # Still running when the file ends.
            ev(70, "spawn_requested"),
            ev(71, "server_started"),
        ]
    )
    by = {(v.user, v.requested): v for v in found}
    ada = by[("ada", T)]
    assert ada.wait == 30 and ada.stopped == T + timedelta(minutes=60)
    bob = by[("bob", T + timedelta(minutes=10, seconds=-12))]
    assert bob.wait == 12 and bob.mem == GIB and bob.stopped is None
    assert by[("cy", T + timedelta(minutes=20))].started is None
    assert by[("ada", T + timedelta(minutes=70))].stopped is None
    assert len(found) == 4


def test_a_generated_week_replays_as_the_course_it_came_from(tmp_path):
    c = course()
    trace = requests(c)
    path = tmp_path / "week.jsonl"
    write_events(path, events_from_requests(c, trace))
    replayed, used = replay_requests(visits(read_events(path)), week_start(c), 1, 1.0)
    assert len(replayed) == len(trace) == len(used)
    for a, b in zip(
        sorted(replayed, key=lambda r: r.user), sorted(trace, key=lambda r: r.user), strict=True
    ):
        assert (a.user, a.mem, a.cpu) == (b.user, b.mem, b.cpu)
        assert a.arrival == pytest.approx(b.arrival, abs=1e-5)
        assert a.lifetime == pytest.approx(b.lifetime, abs=1e-5)

    from_course = sim.simulate(c, c.autoscaler)
    report = sim.replay(str(path), c, Config())
    assert report.requests == from_course.requests
    assert report.bound_hours == pytest.approx(from_course.bound_hours, abs=1e-3)
    assert report.peak_nodes == from_course.peak_nodes
    for got, want in zip(report.results, from_course.results, strict=True):
        assert got.policy == want.policy
        assert got.node_hours == pytest.approx(want.node_hours, abs=0.02)
    assert report.recorded.servers == len(trace) and report.recorded.waits[0] == 0
    assert "recorded by the hub" in report.table()


def test_a_replay_with_two_profiles_bounds_each_size_by_whole_servers(tmp_path):
    c = course()
    events = []
    for i in range(5):  # 5 x 9 GiB: one a node, whatever the memory says
        events.append(
            ev(i, "spawn_requested", user=f"big{i}", mem_reservation=9 * GIB, cpu_reservation=1.0)
        )
        events.append(
            ev(
                i + 1,
                "server_started",
                user=f"big{i}",
                mem_reservation=9 * GIB,
                cpu_reservation=1.0,
            )
        )
        events.append(ev(120, "server_stopped", user=f"big{i}"))
    for i in range(8):
        events.append(ev(2, "server_started", user=f"s{i}"))  # the course's 2 GiB
        events.append(ev(120, "server_stopped", user=f"s{i}"))
    path = tmp_path / "two.jsonl"
    write_events(path, events)
    report = sim.replay(str(path), c, Config())
    assert report.peak_nodes == 5  # 45 + 16 GiB = 61 GiB would say 4
    auto = report.results[0]
    assert auto.waiting_at_end == 0 and auto.evictions == 0
    assert report.course.week_of.isoformat() == "2025-03-24"


def test_cli_replays_with_and_without_a_course(tmp_path, monkeypatch):
    from swarmhub.cli import main

    c = course()
    path = tmp_path / "week.jsonl"
    write_events(path, events_from_requests(c, requests(c)[:20]))
    course_file = tmp_path / "c.yaml"
    course_file.write_text(c.model_dump_json())  # JSON is YAML
    monkeypatch.chdir(tmp_path)  # no swarmhub.yaml: the local target's defaults
    runner = CliRunner()
    result = runner.invoke(main, ["simulate", "--replay", str(path), "--course", str(course_file)])
    assert result.exit_code == 0, result.output
    assert "replay of" in result.output and "recorded by the hub: 20 servers" in result.output
    # Without a course: this machine's node, swarmhub.yaml's server size.
    result = runner.invoke(main, ["simulate", "--replay", str(path)])
    assert result.exit_code == 0, result.output
    assert "lower bound" in result.output
    result = runner.invoke(main, ["simulate"])
    assert result.exit_code == 1 and "--course FILE, or --replay EVENTS" in result.output
