"""`report`: the bill of a hand-made week whose answers are worked out below.

Two nodes, two courses, 2025-03-24 00:00 to 2025-03-31 00:00 UTC:

    n1  ada   intro 2 GiB  Tue 10:00-12:00  waited 10 s
        bob   intro 2 GiB  Tue 11:00-13:00  waited 30 s   -> n1 busy 10:00-13:00 = 3 h
    n2  cy    stats 4 GiB  Tue 10:00-14:00  waited 50 s   -> n2 busy 4 h
        dan   stats        asked Tue 15:00, failed at 15:01 (never started)

node-hours 7; GiB-hours intro 8, stats 16 -> intro 7 * 8/24 = 2.333 node-h,
stats 4.667; at $0.50: intro $1.17 (4 server-h -> $0.292 a student-hour),
stats $2.33 ($0.583).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from swarmhub.autoscaler.trace import ServerEvent, read_events, write_events
from swarmhub.cli import main as cli
from swarmhub.errors import SwarmhubError
from swarmhub.report import billing, exported, since, table, timeline

GIB = 1024**3
START = datetime(2025, 3, 24, tzinfo=UTC)
END = START + timedelta(days=7)


def at(hour: float, day: int = 1) -> datetime:
    return START + timedelta(days=day, hours=hour)


def ev(when, event, user, course, mem=None, **kw):
    return ServerEvent(
        time=when, event=event, user=user, course=course, profile="default",
        mem_reservation=mem, cpu_reservation=0.5 if mem else None, **kw,
    )  # fmt: skip


def week() -> list[ServerEvent]:
    ada, bob, cy = (("ada", "intro", 2 * GIB), ("bob", "intro", 2 * GIB), ("cy", "stats", 4 * GIB))
    return [
        ev(at(10) - timedelta(seconds=10), "spawn_requested", *ada),
        ev(at(10), "server_started", *ada, spawn_wait_seconds=10, node="n1"),
        ev(at(12), "server_stopped", *ada, node="n1", reason="user"),
        # bob's start alone: requested its wait earlier
        ev(at(11), "server_started", *bob, spawn_wait_seconds=30, node="n1"),
        ev(at(13), "server_stopped", *bob, node="n1", reason="culled"),
        ev(at(10) - timedelta(seconds=50), "spawn_requested", *cy),
        ev(at(10), "server_started", *cy, spawn_wait_seconds=50, node="n2"),
        ev(at(14), "server_stopped", *cy, node="n2", reason="user"),
        ev(at(15), "spawn_requested", "dan", "stats"),
        ev(at(15 + 1 / 60), "server_stopped", "dan", "stats", reason="failed"),
        # before the period: not billed
        ev(at(10, day=-3), "server_started", "ada", "intro", 2 * GIB, node="n9"),
        ev(at(11, day=-3), "server_stopped", "ada", "intro", 2 * GIB, node="n9"),
    ]


def test_the_hand_made_week_bills_what_the_docstring_works_out():
    b = billing.bill(week(), START, END, price=0.5)
    intro, stats = b.courses
    assert (intro.course, stats.course) == ("intro", "stats")
    assert b.total.node_hours == pytest.approx(7)
    assert (intro.server_hours, stats.server_hours) == (pytest.approx(4), pytest.approx(4))
    assert (intro.gib_hours, stats.gib_hours) == (pytest.approx(8), pytest.approx(16))
    assert intro.node_hours == pytest.approx(7 * 8 / 24)
    assert stats.node_hours == pytest.approx(7 * 16 / 24)
    assert intro.cost == pytest.approx(7 / 3 * 0.5) and b.total.cost == pytest.approx(3.5)
    assert intro.cost_per_student_hour == pytest.approx(7 / 3 * 0.5 / 4)
    assert stats.cost_per_student_hour == pytest.approx(7 * 2 / 3 * 0.5 / 4)
    assert (intro.wait_p50, intro.wait_p95) == (10, 30)
    assert (stats.wait_p50, stats.wait_p95) == (50, 50)
    assert (intro.students, intro.servers, intro.never_started) == (2, 2, 0)
    assert (stats.students, stats.servers, stats.never_started) == (1, 1, 1)
    assert sorted(b.nodes) == ["n1", "n2"] and b.unplaced == 0


def test_course_shows_one_row_with_its_share_of_every_course_s_nodes():
    b = billing.bill(week(), START, END, price=0.5, course="intro")
    (intro,) = b.courses
    assert intro.node_hours == pytest.approx(7 / 3)
    assert b.total.node_hours == pytest.approx(7)


def test_servers_across_the_period_s_edges_are_clipped():
    events = [
        ev(at(23, day=-1), "server_started", "ada", "intro", GIB, node="n1"),
        ev(at(1, day=0), "server_stopped", "ada", "intro", GIB, node="n1"),
        ev(at(22, day=6), "server_started", "bob", "intro", GIB, node="n1"),  # runs on
    ]
    b = billing.bill(events, START, END, price=1.0)
    assert b.total.server_hours == pytest.approx(1 + 2)
    assert b.total.node_hours == pytest.approx(3)
    # only bob was asked for within the period
    assert b.courses[0].servers == 1


def test_no_price_no_cost_and_servers_without_a_node_are_counted():
    events = [
        ev(at(10), "server_started", "ada", None, None),
        ev(at(11), "server_stopped", "ada", None, None),
    ]
    b = billing.bill(events, START, END, default_mem=2 * GIB)
    (row,) = b.courses
    assert row.course == "(none)" and row.gib_hours == pytest.approx(2)
    assert row.cost is None and row.cost_per_student_hour is None
    assert b.unplaced == 1 and b.total.node_hours == 0
    assert "1 servers name no node" in table(b)


def test_the_timeline_counts_servers_and_nodes_at_each_change():
    b = billing.bill(week(), START, END)
    points = timeline(b)
    assert points[0] == (START, 0, 0) and points[-1] == (END, 0, 0)
    assert [(p[0], p[1], p[2]) for p in points[1:-1]] == [
        (at(10), 2, 2),
        (at(11), 3, 2),
        (at(12), 2, 2),
        (at(13), 1, 1),
        (at(14), 0, 0),
    ]
    assert [p[1] for p in timeline(b, "stats")[1:-1]] == [1, 1, 0]  # at 10, 13, 14


def test_since_reads_spans_and_dates():
    now = datetime(2025, 3, 31, 12, tzinfo=UTC)
    assert since("7d", now) == now - timedelta(days=7)
    assert since("36h", now) == now - timedelta(hours=36)
    assert since("2025-03-24", now) == START
    with pytest.raises(SwarmhubError, match="--since"):
        since("last week", now)


def _run(tmp_path, *args):
    path = tmp_path / "events.jsonl"
    if not path.exists():
        write_events(path, week())
    return CliRunner().invoke(
        cli,
        ["report", "--config", str(tmp_path / "none.yaml"), "--events", str(path), *args],
        catch_exceptions=False,
    )


@pytest.fixture
def fixed_now(monkeypatch):
    import swarmhub.report as reporting

    monkeypatch.setattr(reporting, "utcnow", lambda: END)


def test_the_command_prints_the_table(tmp_path, fixed_now):
    (tmp_path / "none.yaml").write_text("{}\n")
    result = _run(tmp_path, "--price-per-node-hour", "0.5")
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split() for line in result.output.splitlines() if line}
    assert lines["intro"][1:9] == ["2", "2", "0", "4.0", "8.0", "2.3", "1.17", "10.0"]
    assert lines["stats"][1:8] == ["1", "1", "1", "4.0", "16.0", "4.7", "2.33"]
    assert lines["intro"][-1] == "0.292" and lines["stats"][-1] == "0.583"
    assert lines["total"][6:8] == ["7.0", "3.50"]


def test_the_command_writes_a_self_contained_html_plot(tmp_path, fixed_now):
    (tmp_path / "none.yaml").write_text("{}\n")
    result = _run(tmp_path, "--plot", str(tmp_path / "week.html"))
    assert result.exit_code == 0, result.output
    text = (tmp_path / "week.html").read_text()
    assert "<script" not in text and "http" not in text.split("<svg")[0]
    # no config: a section per course of the events, days in UTC, no windows
    assert text.count("<section class='course'") == 2 and "class='window'" not in text
    assert "days in UTC (not a course in swarmhub.yaml)" in text
    assert "peak 3 servers" not in text and "peak 2 servers, 2 nodes" in text  # intro's Tuesday


def test_a_png_without_matplotlib_says_what_to_do(tmp_path, fixed_now, monkeypatch):
    import importlib

    real = importlib.import_module

    def fake(name, *a):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real(name, *a)

    monkeypatch.setattr(importlib, "import_module", fake)
    (tmp_path / "none.yaml").write_text("{}\n")
    result = _run(tmp_path, "--plot", str(tmp_path / "week.png"))
    assert result.exit_code == 1 and "a PNG needs matplotlib" in result.output


def test_export_writes_the_period_s_events_of_the_course_in_the_same_format(tmp_path, fixed_now):
    (tmp_path / "none.yaml").write_text("{}\n")
    out = tmp_path / "intro.jsonl"
    result = _run(tmp_path, "--course", "intro", "--export", str(out))
    assert result.exit_code == 0, result.output
    got = read_events(out)
    assert {e.course for e in got} == {"intro"} and len(got) == 5  # not the one before
    assert all(set(json.loads(line)) >= {"node", "reason"} for line in out.read_text().splitlines())
    assert got == sorted(exported(week(), START, END, "intro"), key=lambda e: e.time)
    again = _run(tmp_path, "--course", "intro", "--export", str(out))
    assert again.exit_code == 1 and "exists" in again.output


def test_an_unknown_course_is_an_error(tmp_path, fixed_now):
    (tmp_path / "none.yaml").write_text("{}\n")
    result = _run(tmp_path, "--course", "history")
    assert result.exit_code == 1 and "no server of course 'history'" in result.output


def test_on_aws_the_command_says_where_the_events_are(tmp_path):
    import swarmhub.report as reporting

    with pytest.raises(SwarmhubError, match="/var/lib/swarmhub/hub/events.jsonl"):
        reporting.events_path(None, "aws", None)


def test_locally_it_reads_the_hub_state_s_file(tmp_path):
    import swarmhub.report as reporting
    from swarmhub.config import parse_config

    cfg = parse_config({"local": {"state_dir": str(tmp_path)}}, "t.yaml")
    with pytest.raises(SwarmhubError, match="no events recorded yet"):
        reporting.events_path(cfg, "local", None)
    (tmp_path / "hub").mkdir()
    write_events(tmp_path / "hub" / "events.jsonl", week())
    assert reporting.events_path(cfg, "local", None) == tmp_path / "hub" / "events.jsonl"
