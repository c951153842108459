"""The courses section: one line per mistake, at the field's line; dates and groups."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from swarmhub.config import ConfigError, load_config, parse_config
from swarmhub.config.courses import course_windows, groups_for

PROFILES = {
    "profiles": [{"name": "small", "display_name": "S"}, {"name": "big", "display_name": "B"}]
}


def _course(**over):
    return {"name": "phys-101", "roster": ["alice"], "start": "2026-09-01", "end": "2026-12-20",
            **over}  # fmt: skip


def _cfg(*courses, auth=None, **sections):
    data = {"servers": PROFILES, "courses": list(courses), **sections}
    if auth:
        data["hub"] = {"auth": auth}
    return parse_config(data, "t")


def _errors(tmp_path, text: str) -> list[str]:
    path = tmp_path / "swarmhub.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value).splitlines()


def test_a_course_reads_its_roster_file_beside_the_config(tmp_path):
    (tmp_path / "students.txt").write_text("Alice\n# a comment\n\nbob  # late enrolment\n")
    (tmp_path / "swarmhub.yaml").write_text(
        "courses:\n"
        "  - name: phys-101\n"
        "    roster: [carol]\n"
        "    roster_file: students.txt\n"
        "    start: 2026-09-01\n"
        "    end: 2026-12-20\n"
        "    timezone: Europe/Berlin\n"
        "    windows:\n"
        "      - {days: [tue], start: '14:00', end: '16:00', min_nodes: 2, kind: exam}\n"
    )
    cfg = load_config(tmp_path / "swarmhub.yaml")
    (course,) = cfg.courses
    assert course.roster == ["carol", "alice", "bob"]
    assert course.roster_file is None  # the hub gets the names, not a path it cannot read
    # A window without a zone is in the course's.
    assert course.windows[0].timezone == "Europe/Berlin" and course.windows[0].kind == "exam"
    # What the hub reads back (settings.json) is the same course.
    again = parse_config(cfg.model_dump(mode="json"), "settings.json")
    assert again.courses == cfg.courses


def test_every_mistake_is_one_line_at_its_field(tmp_path):
    lines = _errors(
        tmp_path,
        "servers:\n"
        "  profiles:\n"
        "    - {name: small, display_name: Small}\n"
        "courses:\n"
        "  - name: phys-101\n"
        "    roster: [alice]\n"
        "    staff: [carol, 'org:tas']\n"
        "    profiles: [small, huge]\n"
        "    start: 2026-09-01\n"
        "    end: 2026-12-20\n"
        "    windows:\n"
        "      - {days: [tue], start: '14:00', end: '16:00', min_nodes: 20}\n"
        "  - name: phys-101\n"
        "    roster: [dave]\n"
        "    start: 2026-09-01\n"
        "    end: 2026-10-20\n",
    )
    assert len(lines) == 4, lines
    staff, profile, nodes, name = lines
    assert ":7:" in staff and "courses[0].staff[1]" in staff and "GitHub team" in staff
    assert ":8:" in profile and "`huge` is not in servers.profiles (small)" in profile
    assert ":12:" in nodes and "above autoscaler.max_nodes (10)" in nodes
    assert ":13:" in name and "course names are unique" in name


@pytest.mark.parametrize(
    ("over", "field", "says"),
    [
        ({"end": "2026-08-01"}, "courses[0].end", "is before start"),
        ({"roster": []}, "courses[0].roster", "is empty"),
        ({"name": "Physics 101"}, "courses[0].name", "is not a course name"),
        ({"name": "phys-staff"}, "courses[0].name", "staff group"),
        ({"roster": ["al ice"]}, "courses[0].roster[0]", "neither a user name"),
        ({"roster": ["org:"]}, "courses[0].roster[0]", "is not 'org:team'"),
        ({"timezone": "Europe/Berln"}, "courses[0].timezone", "Europe/Berlin"),
        ({"roster_file": "missing.txt"}, "courses[0].roster_file", "cannot be read"),
        (
            {"windows": [{"days": ["mon"], "start": "9:00", "end": "10:00", "min_nodes": 1}]},
            "courses[0].windows[0].start",
            "'09:00'",
        ),  # fmt: skip
        (
            {
                "windows": [
                    {
                        "days": ["mon"],
                        "start": "09:00",
                        "end": "10:00",
                        "min_nodes": 1,
                        "kind": "quiz",
                    }
                ]
            },
            "courses[0].windows[0].kind",
            "lecture",
        ),  # fmt: skip
    ],
)
def test_a_course_mistake_names_the_field(over, field, says):
    with pytest.raises(ConfigError) as info:
        _cfg(_course(**over))
    text = str(info.value)
    assert f"{field}:" in text and says in text, text


def test_teams_need_github_sign_in():
    github = {
        "kind": "github",
        "admin_users": ["prof"],
        "github": {"client_id": "abc", "allowed_users": ["prof"]},
    }
    cfg = _cfg(_course(roster=["Uni:Phys-101-Students"], staff=["uni:phys-tas"]), auth=github)
    assert cfg.courses[0].roster == ["uni:phys-101-students"]  # GitHub slugs: any case


def test_groups_follow_the_roster_and_stop_after_the_end_date():
    cfg = _cfg(
        _course(roster=["alice", "uni:students"], staff=["carol"]),
        _course(name="chem-1", roster=["alice"], start="2026-01-01", end="2026-03-01"),
        auth={"kind": "github", "admin_users": ["p"], "github": {"client_id": "x",
                                                                  "allowed_users": ["p"]}},
    )  # fmt: skip
    term = datetime(2026, 10, 1, tzinfo=UTC)
    assert groups_for(cfg.courses, "Alice", set(), term) == ["course-phys-101"]
    assert groups_for(cfg.courses, "zoe", {"UNI:Students"}, term) == ["course-phys-101"]
    assert groups_for(cfg.courses, "carol", set(), term) == ["course-phys-101-staff"]
    assert groups_for(cfg.courses, "mallory", {"uni:other"}, term) == []
    # The last day counts; the day after, nothing of the course applies.
    last = datetime(2026, 12, 20, 23, 30, tzinfo=UTC)
    after = datetime(2026, 12, 21, 0, 0, 1, tzinfo=UTC)
    assert groups_for(cfg.courses, "alice", set(), last) == ["course-phys-101"]
    assert groups_for(cfg.courses, "alice", set(), after) == []
    # chem-1 ran in spring only.
    spring = datetime(2026, 2, 1, tzinfo=UTC)
    assert groups_for(cfg.courses, "alice", set(), spring) == ["course-chem-1"]


def test_the_end_date_is_read_in_the_course_time_zone():
    (course,) = _cfg(_course(timezone="Pacific/Auckland")).courses
    # 2026-12-20 13:00 UTC is already the 21st in Auckland.
    assert not course.active(datetime(2026, 12, 20, 13, 0, tzinfo=UTC))
    assert course.active(datetime(2026, 12, 20, 10, 0, tzinfo=UTC))


def test_only_running_courses_add_windows():
    window = {"days": ["tue"], "start": "14:00", "end": "16:00", "min_nodes": 3}
    cfg = _cfg(
        _course(windows=[window]),
        _course(name="old", start="2025-01-01", end="2025-06-01", windows=[window]),
    )
    windows = course_windows(cfg.courses, datetime(2026, 10, 1, tzinfo=UTC))
    assert len(windows) == 1 and windows[0].min_nodes == 3


def test_the_example_s_commented_courses_block_is_valid(tmp_path):
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "swarmhub.example.yaml").read_text()
    lines = text.splitlines()
    first = lines.index(next(line for line in lines if line.startswith("# courses:")))
    block = []
    for line in lines[first:]:
        if not line.startswith("#"):
            break
        block.append(line[2:].split("  #")[0].rstrip())
    (tmp_path / "phys-101.txt").write_text("dave\n")
    (tmp_path / "swarmhub.yaml").write_text(
        "servers:\n  profiles:\n    - {name: large, display_name: Large}\n" + "\n".join(block)
    )
    (course,) = load_config(tmp_path / "swarmhub.yaml").courses
    assert course.roster == ["alice", "bob", "dave"] and course.windows[1].kind == "exam"


# --- the autoscaler's defaults with a calendar (issue 22) -----------------------


def test_with_a_calendar_min_nodes_defaults_to_zero():
    assert _cfg(_course()).autoscaler.min_nodes == 0
    window = {"days": ["tue"], "start": "14:00", "end": "16:00", "min_nodes": 2}
    assert parse_config({"autoscaler": {"schedule": [window]}}, "t").autoscaler.min_nodes == 0


def test_without_a_calendar_or_when_set_min_nodes_is_kept():
    assert parse_config({}, "t").autoscaler.min_nodes == 1
    assert _cfg(_course(), autoscaler={"min_nodes": 1}).autoscaler.min_nodes == 1
    assert _cfg(_course(), autoscaler=None).autoscaler.min_nodes == 0
