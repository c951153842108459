"""How big a user's server is: the profile they may pick, its reservation, and
the exam rule, in one place for the spawner, the autoscaler and the simulator.

`servers.profiles` in swarmhub.yaml names each choice (image, memory, CPU);
fields a profile leaves unset take the `servers` defaults. With no profiles
there is one implicit choice, `default`. A course's students see its profiles
and the ones no course names (membership.offered). During an exam window of
the student's course the server reserves its whole limit, so no exam server
is squeezed by a neighbour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from swarmhub.config.courses import Course
from swarmhub.courses.membership import NOBODY, Membership, exam_now, membership, offered

DEFAULT = "default"


@dataclass(frozen=True)
class Choice:
    name: str
    display_name: str
    description: str
    image: str
    mem_limit: int
    mem_reservation: int
    cpu_limit: float
    cpu_reservation: float


def default_choice(servers, default_image: str) -> Choice:
    """The `servers` defaults as a choice: what a user gets when no profile is offered."""
    return Choice(
        name=DEFAULT,
        display_name="Default",
        description="",
        image=default_image,
        mem_limit=servers.mem_limit,
        mem_reservation=servers.mem_reservation,
        cpu_limit=servers.cpu_limit,
        cpu_reservation=servers.cpu_reservation,
    )


def choices(servers, default_image: str) -> list[Choice]:
    """The choices a user has, first one the default. `servers` is a ServersConfig."""
    if not servers.profiles:
        return [default_choice(servers, default_image)]
    out = []
    for p in servers.profiles:
        mem_limit = p.mem_limit if p.mem_limit is not None else servers.mem_limit
        cpu_limit = p.cpu_limit if p.cpu_limit is not None else servers.cpu_limit
        mem_reservation = p.mem_reservation
        if mem_reservation is None:
            # A bigger profile must not reserve more than it may use.
            mem_reservation = min(servers.mem_reservation, mem_limit)
        cpu_reservation = p.cpu_reservation
        if cpu_reservation is None:
            cpu_reservation = min(servers.cpu_reservation, cpu_limit)
        out.append(
            Choice(
                name=p.name,
                display_name=p.display_name,
                description=p.description,
                image=p.image or default_image,
                mem_limit=mem_limit,
                mem_reservation=mem_reservation,
                cpu_limit=cpu_limit,
                cpu_reservation=cpu_reservation,
            )
        )
    return out


def resolve(options: dict | None, available: list[Choice]) -> Choice:
    """The choice `options` (a user's request) names; ValueError says why it is refused."""
    options = dict(options or {})
    name = options.pop("profile", None)
    if options:
        keys = ", ".join(sorted(map(str, options)))
        raise ValueError(f"unsupported server options: {keys}; choose a profile instead")
    if name is None:
        return available[0]
    by_name = {c.name: c for c in available}
    if not isinstance(name, str) or name not in by_name:
        names = ", ".join(by_name)
        raise ValueError(f"no profile named {str(name)[:64]!r}; the choices are: {names}")
    return by_name[name]


@dataclass(frozen=True)
class Size:
    """A server as it will run: its profile, what it reserves, and the course
    whose exam made the reservation its limit (None: no exam)."""

    choice: Choice
    mem: int
    cpu: float
    exam: Course | None = None


class Catalogue:
    """What the users of one hub may run: its profiles, the fallback when none
    is offered, and the courses that decide who sees which."""

    def __init__(self, available: list[Choice], fallback: Choice, courses=()):
        self.available = available
        self.fallback = fallback
        self.courses = list(courses)

    @classmethod
    def of(cls, config, image: str) -> Catalogue:
        """The catalogue a hub deployed with swarmhub.yaml `config` offers."""
        servers = config.servers
        return cls(choices(servers, image), default_choice(servers, image), config.courses)

    def membership(self, groups: set[str], now: datetime) -> Membership:
        return membership(self.courses, groups, now) if self.courses else NOBODY

    def for_membership(self, m: Membership) -> list[Choice]:
        """The choices a user of membership `m` may pick."""
        if not self.courses:
            return self.available
        names = offered([c.name for c in self.available], self.courses, m)
        mine = [c for c in self.available if c.name in names]
        return mine or [self.fallback]

    def size(self, options: dict | None, m: Membership, now: datetime) -> Size:
        """The server a user of membership `m` gets for `options` at `now`:
        ValueError (why) when they may not have it."""
        choice = resolve(options, self.for_membership(m))
        exam = exam_now(m, now) if self.courses else None
        if exam is not None:
            # An exam's server gets what it may use set aside: reservation = limit.
            return Size(choice, choice.mem_limit, choice.cpu_limit, exam)
        return Size(choice, choice.mem_reservation, choice.cpu_reservation)
