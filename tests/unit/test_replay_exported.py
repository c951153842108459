"""`report --export` then `simulate --replay`: one format from the hub to the simulator.

A week of two courses as the hub writes it (the generated week of course
"lab", and the same servers again as course "other"), exported for "lab" by
`report`, replays as "lab"'s own week; `--course NAME` on the whole file
picks the same servers.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from click.testing import CliRunner

from swarmhub.autoscaler import simulate as sim
from swarmhub.autoscaler.course import requests, week_start
from swarmhub.autoscaler.sim_replay import events_from_requests
from swarmhub.autoscaler.trace import read_events, write_events
from swarmhub.cli import main as cli
from swarmhub.config import Config
from tests.unit.test_simulate_replay import course


@pytest.fixture
def hub_file(tmp_path, monkeypatch):
    import swarmhub.report as reporting

    c = course()
    trace = requests(c)[:40]
    lab = events_from_requests(c, trace, waits={r.user: 5.0 for r in trace})
    lab = [dataclasses.replace(e, node="n1") for e in lab]
    other = [dataclasses.replace(e, course="other", user="o-" + e.user) for e in lab]
    path = tmp_path / "events.jsonl"
    write_events(path, sorted(lab + other, key=lambda e: e.time))
    monkeypatch.setattr(reporting, "utcnow", lambda: week_start(c) + timedelta(days=7))
    monkeypatch.chdir(tmp_path)  # no swarmhub.yaml: the local target's defaults
    return c, trace, path


def test_an_exported_course_replays_as_its_own_week(tmp_path, hub_file):
    c, trace, path = hub_file
    out = tmp_path / "lab.jsonl"
    runner = CliRunner()
    result = runner.invoke(
        cli, ["report", "--events", str(path), "--course", "lab", "--export", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert {e.course for e in read_events(out)} == {"lab"}

    course_file = tmp_path / "c.yaml"
    course_file.write_text(c.model_dump_json())
    result = runner.invoke(cli, ["simulate", "--replay", str(out), "--course", str(course_file)])
    assert result.exit_code == 0, result.output
    assert f"recorded by the hub: {len(trace)} servers, 0 never started" in result.output
    assert "spawn wait p50 5 s, p95 5 s" in result.output
    for policy in ("lower bound", "autoscaler", "static (peak", "cpu target"):
        assert policy in result.output

    want = sim.simulate(c, c.autoscaler, trace)
    got = sim.replay(str(out), c, Config())
    assert got.requests == want.requests == len(trace)
    assert got.bound_hours == pytest.approx(want.bound_hours, abs=1e-3)


def test_course_name_on_the_whole_file_replays_only_that_course(tmp_path, hub_file):
    c, trace, path = hub_file
    whole = sim.replay(str(path), c, Config())
    lab = sim.replay(str(path), c, Config(), only="lab")
    assert whole.requests == 2 * len(trace) and lab.requests == len(trace)
    assert "(course lab)" in lab.table()

    result = CliRunner().invoke(cli, ["simulate", "--replay", str(path), "--course", "lab"])
    assert result.exit_code == 0, result.output
    assert f"recorded by the hub: {len(trace)} servers" in result.output
    result = CliRunner().invoke(cli, ["simulate", "--replay", str(path), "--course", "history"])
    assert result.exit_code == 1 and "no event of course 'history'" in result.output
