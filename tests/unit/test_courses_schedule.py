"""Course windows feed the autoscaler's schedule while the course runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from swarmhub.config import parse_config
from swarmhub.courses import calendar as schedule

WINDOW = {"days": ["tue"], "start": "14:00", "end": "16:00", "timezone": "UTC"}
CFG = parse_config(
    {
        "autoscaler": {
            "max_nodes": 10,
            "node_boot_seconds": 120,
            "schedule": [{**WINDOW, "days": ["mon"], "min_nodes": 2}],
        },
        "courses": [
            {
                "name": "phys-101",
                "roster": ["alice"],
                "start": "2026-09-01",
                "end": "2026-12-20",
                "windows": [{**WINDOW, "min_nodes": 6, "kind": "exam"}],
            }
        ],
    },
    "t",
)
TUE = datetime(2026, 10, 6, 15, 0, tzinfo=UTC)


def test_a_course_window_sets_the_floor_during_the_term():
    cfg = schedule.with_courses(CFG, TUE)
    assert len(cfg.schedule) == 2
    floor, window = schedule.schedule_floor(cfg.schedule, TUE, cfg.node_boot_seconds)
    assert floor == 6 and window.kind == "exam"
    # Its nodes are asked for a boot time ahead, like any busy window.
    early = TUE.replace(hour=13, minute=59)
    assert schedule.schedule_floor(cfg.schedule, early, cfg.node_boot_seconds)[0] == 6


def test_after_the_end_date_the_course_adds_no_window():
    later = TUE + timedelta(weeks=12)  # a Tuesday after 2026-12-20
    cfg = schedule.with_courses(CFG, later)
    assert cfg.schedule == CFG.autoscaler.schedule
    assert schedule.schedule_floor(cfg.schedule, later, 120)[0] == 0


def test_without_courses_the_autoscaler_config_is_the_same_object():
    plain = parse_config({}, "t")
    assert schedule.with_courses(plain, TUE) is plain.autoscaler


def test_window_edges_are_the_starts_less_the_lead_and_the_ends():
    t0 = datetime(2026, 10, 5, 0, 0, tzinfo=UTC)  # Monday 00:00
    windows = schedule.busy_windows(CFG, t0)
    edges = schedule.window_edges(windows, t0, 7 * 86400, 120)
    hour = 3600
    assert edges == [14 * hour - 120, 16 * hour, 38 * hour - 120, 40 * hour]
    # Each edge agrees with window_active on either side of it.
    for edge in edges:
        before = t0 + timedelta(seconds=edge - 1)
        after = t0 + timedelta(seconds=edge + 1)
        assert schedule.schedule_floor(windows, before, 120) != schedule.schedule_floor(
            windows, after, 120
        )


def test_the_autoscaler_s_gather_hands_decide_the_course_windows():
    from swarmhub.autoscaler.decide import decide
    from swarmhub.autoscaler.service import Memory, gather
    from swarmhub.hub.settings import Settings
    from tests.helpers import runtime
    from tests.unit.test_autoscaler_service import _Manager, _node, _Pool

    api = _Manager([_node("n1", "ready", 8 * 1024**3)], {})
    state = gather(Settings(CFG, runtime()), api, _Pool(1, ["n1"]), Memory(), {}, TUE)
    assert state.config.schedule[-1].kind == "exam"
    plan = decide(state, TUE)
    assert plan.desired == 6 and "schedule" in plan.reason
