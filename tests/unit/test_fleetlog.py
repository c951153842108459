"""The autoscaler's fleet record and what `report` makes of it: every worker-hour
is billed, busy or idle, where the record reaches; before it, the floor."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from swarmhub.autoscaler import fleetlog
from swarmhub.report import billing, table, timeline
from tests.unit.test_report import END, START, at, week


def test_the_recorder_appends_only_when_the_count_changes(tmp_path):
    path = tmp_path / "fleet.jsonl"
    rec = fleetlog.FleetRecorder(path)
    for hour, n in ((0, 1), (1, 1), (2, 3), (3, 3), (4, 1)):
        rec.record(at(hour), n)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["workers"] for r in lines] == [1, 3, 1]
    assert [r.time for r in fleetlog.read_fleet(path)] == [at(0), at(2), at(4)]


def test_an_unwritable_record_warns_once_and_never_raises(tmp_path, caplog):
    rec = fleetlog.FleetRecorder(tmp_path / "missing-dir" / "fleet.jsonl")
    rec.record(at(0), 1)
    rec.record(at(1), 2)
    assert len([r for r in caplog.records if "fleet" in r.getMessage()]) == 1


def test_a_bad_line_names_the_file_and_line(tmp_path):
    path = tmp_path / "fleet.jsonl"
    path.write_text('{"time": "2025-03-24T00:00:00+00:00", "workers": 1}\n{"workers": 2}\n')
    with pytest.raises(ValueError, match=r"fleet.jsonl:2: not a fleet record"):
        fleetlog.read_fleet(path)


def test_idle_workers_are_billed_where_the_record_reaches():
    # From Tue 00:00: 2 workers all day until 20:00 (n1 and n2 are busy only
    # 10:00-14:00 of it), then 1 to the week's end.
    fleet = [fleetlog.FleetRecord(at(0), 2), fleetlog.FleetRecord(at(20), 1)]
    b = billing.bill(week(), START, END, price=0.5, fleet=fleet)
    fleet_hours = 20 * 2 + (END - at(20)).total_seconds() / 3600
    # Before Tue 00:00 no record: only busy nodes count, and none was busy then.
    assert b.total.node_hours == pytest.approx(fleet_hours)
    assert b.fleet_from == at(0)
    intro, stats = b.courses
    assert intro.node_hours == pytest.approx(fleet_hours * 8 / 24)
    assert b.total.cost == pytest.approx(fleet_hours * 0.5)
    assert "from the autoscaler's fleet record" in table(b)
    nodes = {when: n for when, _, n in timeline(b)}
    assert nodes[at(0)] == 2 and nodes[at(20)] == 1


def test_a_record_from_before_the_period_covers_all_of_it():
    fleet = [fleetlog.FleetRecord(START - timedelta(days=1), 1)]
    b = billing.bill(week(), START, END, fleet=fleet)
    assert b.total.node_hours == pytest.approx(7 * 24)
    assert b.fleet_from == START and "(from" not in table(b)


def test_without_a_record_the_floor_stays_and_says_so():
    b = billing.bill(week(), START, END)
    assert b.total.node_hours == pytest.approx(7) and b.fleet_from is None
    assert "no fleet record" in table(b)
