"""Who is in which course now, from their JupyterHub group names.

A course past its end date (or before its start) counts for nothing, whatever
groups a user still carries from an earlier sign-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from swarmhub.config.courses import Course, active_courses
from swarmhub.courses.calendar import exam_window


@dataclass(frozen=True)
class Membership:
    """A user's part in the courses that apply now."""

    student: tuple[Course, ...]
    staff: tuple[Course, ...]

    @property
    def courses(self) -> tuple[Course, ...]:
        seen = {c.name: c for c in (*self.staff, *self.student)}
        return tuple(seen.values())


NOBODY = Membership((), ())


def membership(courses: list[Course], groups: set[str], now: datetime) -> Membership:
    live = active_courses(courses, now)
    return Membership(
        student=tuple(c for c in live if c.group in groups),
        staff=tuple(c for c in live if c.staff_group in groups),
    )


def claimed_profiles(courses: list[Course]) -> set[str]:
    """Profiles some course names, ended or not: never offered to everyone."""
    return {name for c in courses for name in c.profiles}


def offered(all_names: list[str], courses: list[Course], m: Membership) -> list[str]:
    """The profile names a user may pick, in servers.profiles order.

    A member (student or staff) of a course that applies sees that course's
    profiles; everybody also sees the profiles no course names (the default
    offer). A profile a course names is never offered outside it, also once
    the course has ended. Empty: nothing in the list fits, the servers defaults
    apply (sizing.choices' `default`).
    """
    claimed = claimed_profiles(courses)
    mine = {name for c in m.courses for name in c.profiles}
    return [n for n in all_names if n in mine or n not in claimed]


def exam_now(m: Membership, now: datetime) -> Course | None:
    """The course whose exam window is on at `now` for this student, if any
    (staff sit no exam)."""
    for c in m.student:
        if exam_window(c, now) is not None:
            return c
    return None


def course_for(m: Membership, profile: str) -> str:
    """The course a spawn counts for: the first the user is in whose profiles include
    the chosen one, else the first they are in; "" for none (the bill, #15)."""
    for c in m.courses:
        if profile in c.profiles:
            return c.name
    return m.courses[0].name if m.courses else ""
