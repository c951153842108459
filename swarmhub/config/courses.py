"""Courses: who is in a class, who teaches it, what they may run and when it meets.

A course names its roster and staff (GitHub teams `org:team` or user names),
the profiles its students may pick (names from `servers.profiles`), its
lecture/lab/exam windows (which feed the autoscaler's schedule) and the dates
it runs. Everything derived from a course (its JupyterHub groups, its staff
role, its profiles, its windows, its folders) applies only from `start` to
`end`, both days included, in the course's time zone; the checks take the
clock as an argument, so the hub, the autoscaler and the tests ask the same
question at their own "now".

Pure and base-deps only: the CLI, the autoscaler and the hub import it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import ValidationError, ValidationInfo, field_validator, model_validator

from swarmhub.config.autoscaler import BusyWindow
from swarmhub.config.hub import _SLUG, USERNAME, USERNAME_RULE
from swarmhub.config.types import FieldError, Strict

# The validation context key of the directory a roster_file is relative to.
CONFIG_DIR = "config_dir"

# Course areas live in the homes' storage under this directory: a name no user
# can have (user names never start with "."), on the same NFS/EFS or host dir.
AREA_DIR = ".courses"

_COURSE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,23}$")

WindowKind = Literal["lecture", "lab", "exam"]


class CourseWindow(BusyWindow):
    """A time the course meets: at least `min_nodes` from `start` to `end`."""

    # lecture, lab or exam; during an exam every server of the course reserves its limit.
    kind: WindowKind = "lab"


def is_team(entry: str) -> bool:
    return ":" in entry


def _members(value: list[str]) -> list[str]:
    out = []
    for i, item in enumerate(value):
        if is_team(item):
            org, _, team = item.partition(":")
            if not (_SLUG.match(org) and _SLUG.match(team)):
                raise FieldError(
                    f"[{i}]", f"`{item}` is not 'org:team' (the slugs in the team's URL)"
                )
            out.append(f"{org.lower()}:{team.lower()}")
        else:
            if not USERNAME.match(item.lower()):
                raise FieldError(
                    f"[{i}]",
                    f"`{item}` is neither a user name ({USERNAME_RULE}) nor a team 'org:team'",
                )
            out.append(item.lower())
    return out


def read_roster(path: Path) -> list[str]:
    """A roster file: one user name per line; blank lines and `#` comments ignored.
    A leading byte-order mark (Excel's UTF-8 CSV) is not part of the first name."""
    names = []
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(line)
    return names


class Course(Strict):
    """One class. Its groups are `course-<name>` (students) and `course-<name>-staff`."""

    # The course's key: group names, folder names (lower case, digits, '-', at most 24).
    name: str
    # Its students: GitHub teams 'org:team' (with GitHub sign-in) or user names.
    roster: list[str] = []
    # A file of user names, one a line (relative to swarmhub.yaml), added to roster.
    roster_file: str | None = None
    # Who teaches it: teams or user names; they manage this course's servers only.
    staff: list[str] = []
    # The names of the servers.profiles its students may pick; empty: the default offer.
    profiles: list[str] = []
    # When the class meets; each window's nodes are pre-warmed like autoscaler.schedule.
    windows: list[CourseWindow] = []
    # Time zone of start and end, and of the windows that do not name their own.
    timezone: str = "UTC"
    # The first day the course applies (YYYY-MM-DD).
    start: date
    # The last day it applies; after it, its groups, role, profiles and windows stop.
    end: date
    # A shared/ folder: read-only for students, read-write for staff.
    shared_folder: bool = False
    # An nbgrader exchange in the course's area, private per student.
    nbgrader: bool = False

    @model_validator(mode="before")
    @classmethod
    def _inherit_and_read(cls, data: object, info: ValidationInfo) -> object:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        tz = data.get("timezone") or "UTC"
        windows = data.get("windows")
        if isinstance(windows, list):
            # A window without its own zone is in the course's.
            data["windows"] = [
                {**w, "timezone": tz} if isinstance(w, dict) and "timezone" not in w else w
                for w in windows
            ]
        roster_file = data.get("roster_file")
        if roster_file:
            base = Path((info.context or {}).get(CONFIG_DIR) or ".")
            path = base / str(roster_file)
            try:
                names = read_roster(path)
            except OSError as exc:
                raise FieldError(
                    "roster_file", f"cannot be read ({exc.strerror}): {path}"
                ) from None
            # The file is read once, where swarmhub.yaml is: the hub gets the names.
            roster = data.get("roster") or []
            data["roster"] = [*roster, *names] if isinstance(roster, list) else roster
            data.pop("roster_file")
        return data

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _COURSE_NAME.match(value):
            raise ValueError(
                "is not a course name; use lower-case letters, digits and '-', "
                "starting with a letter, at most 24, e.g. physics-101"
            )
        if value.endswith("-staff"):
            # course-<x>-staff is the staff group of course <x>.
            raise ValueError("ends in -staff, which names a course's staff group; rename it")
        return value

    @field_validator("roster", "staff")
    @classmethod
    def _people(cls, value: list[str]) -> list[str]:
        return _members(value)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        # The same check and hint as a window's zone.
        try:
            CourseWindow(days=["mon"], start="09:00", end="10:00", min_nodes=0, timezone=value)
        except ValidationError as exc:
            raise ValueError(exc.errors()[0]["ctx"]["error"]) from None
        return value

    @model_validator(mode="after")
    def _dates(self) -> Course:
        if self.end < self.start:
            raise FieldError(
                "end", f"is before start ({self.start}); a course ends after it begins"
            )
        if not self.roster:
            raise FieldError(
                "roster", "is empty; name the students (teams, user names or roster_file)"
            )
        return self

    # --- derived --------------------------------------------------------------

    @property
    def group(self) -> str:
        """The JupyterHub group of its students."""
        return f"course-{self.name}"

    @property
    def staff_group(self) -> str:
        return f"course-{self.name}-staff"

    @property
    def role(self) -> str:
        return f"course-{self.name}-staff"

    def today(self, now: datetime) -> date:
        return now.astimezone(ZoneInfo(self.timezone)).date()

    def active(self, now: datetime) -> bool:
        """Whether the course applies at `now` (aware): start..end, days included."""
        return self.start <= self.today(now) <= self.end

    def teams(self, which: str = "roster") -> list[str]:
        return [e for e in getattr(self, which) if is_team(e)]

    def users(self, which: str = "roster") -> list[str]:
        return [e for e in getattr(self, which) if not is_team(e)]


def active_courses(courses: list[Course], now: datetime) -> list[Course]:
    return [c for c in courses if c.active(now)]


def groups_for(courses: list[Course], name: str, teams: set[str], now: datetime) -> list[str]:
    """The course groups of user `name`, a member of `teams` ('org:team', any case),
    at `now`: the groups of the courses that apply, where the roster or staff names
    the user or one of their teams."""
    name = name.lower()
    teams = {t.lower() for t in teams}
    out = []
    for course in active_courses(courses, now):
        for which, group in (("roster", course.group), ("staff", course.staff_group)):
            people = getattr(course, which)
            if name in people or teams & set(people):
                out.append(group)
    return sorted(out)


def course_windows(courses: list[Course], now: datetime) -> list[CourseWindow]:
    """The windows of the courses that apply at `now`: what the schedule adds."""
    return [w for c in active_courses(courses, now) for w in c.windows]


def by_group(courses: list[Course]) -> dict[str, tuple[Course, str]]:
    """group name -> (course, "student" | "staff")."""
    out = {}
    for c in courses:
        out[c.group] = (c, "student")
        out[c.staff_group] = (c, "staff")
    return out


def utcnow() -> datetime:
    """The clock, only a function so tests can replace it."""
    return datetime.now(UTC)
