"""`simulate --replay` over a file of several weeks: every server is replayed,
and what cannot be replayed is said, never dropped silently (issue 22, item 3)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from click.testing import CliRunner

from swarmhub.autoscaler import simulate as sim
from swarmhub.autoscaler.course import requests
from swarmhub.autoscaler.sim_replay import events_from_requests
from swarmhub.autoscaler.trace import ServerEvent, write_events
from swarmhub.cli import main as cli
from swarmhub.config import Config
from tests.unit.test_simulate_replay import course


def _three_weeks(tmp_path, start_day: int = 2):
    """A course's week recorded three times, the export starting on a Wednesday
    (`start_day` days after Monday): the first Monday-Tuesday are not in it."""
    c = course()
    trace = requests(c)
    week = events_from_requests(c, trace, waits={r.user: 4.0 for r in trace})
    cut = week[0].time.replace(hour=0, minute=0) + timedelta(days=start_day)
    events = []
    for k in range(3):
        for e in week:
            moved = dataclasses.replace(
                e, time=e.time + timedelta(days=7 * k), user=f"w{k}-{e.user}"
            )
            if moved.time >= cut:
                events.append(moved)
    # a server asked for after the last lab and never started
    last = events[-1].time
    events.append(ServerEvent(time=last + timedelta(hours=1), event="spawn_requested", user="late"))
    path = tmp_path / "three.jsonl"
    write_events(path, sorted(events, key=lambda e: e.time))
    started = {e.user for e in events if e.event == "server_started"}
    return c, path, started


def test_a_three_week_export_places_every_server(tmp_path):
    c, path, started = _three_weeks(tmp_path)
    report = sim.replay(str(path), c, Config())
    assert report.requests == len(started)
    auto = report.results[0]
    assert len(auto.waits) == len(started)
    assert auto.waiting_at_end == 0 and auto.gave_up == 0
    assert report.recorded.servers == len(started)
    assert report.recorded.never_started == 1


def test_the_replay_says_its_span_and_what_it_left_out(tmp_path):
    c, path, started = _three_weeks(tmp_path)
    c_file = tmp_path / "c.yaml"
    c_file.write_text(c.model_dump_json())
    result = CliRunner().invoke(cli, ["simulate", "--replay", str(path), "--course", str(c_file)])
    assert result.exit_code == 0, result.output
    assert f"{len(started)} servers in the 3 weeks from" in result.output
    assert "not replayed: 1 server never started (user late)" in result.output
