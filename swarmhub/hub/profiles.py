"""Server profiles: the instructor's list is all a user may pick from.

`servers.profiles` in swarmhub.yaml names each choice (image, memory, CPU);
fields a profile leaves unset take the `servers` defaults. With no profiles
there is one implicit choice, `default`, and no form. A request (form or REST
API) may carry only `{"profile": <name>}`; any other key, an unknown profile
or an image asked for by name is refused with 400 before anything is created,
through JupyterHub's `Spawner.apply_user_options` hook (JupyterHub >= 5.3).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

from tornado import web

from swarmhub.config.types import format_size

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


def form(available: list[Choice]) -> str:
    """The spawn page's form: radio buttons, the first one checked. Empty for one choice."""
    if len(available) < 2:
        return ""
    rows = []
    for i, c in enumerate(available):
        size = f"{format_size(c.mem_limit)} memory, {c.cpu_limit:g} CPU"
        rows.append(
            '<div class="form-check">'
            f'<input class="form-check-input" type="radio" name="profile" '
            f'id="profile-{html.escape(c.name)}" value="{html.escape(c.name)}"'
            f"{' checked' if i == 0 else ''}>"
            f'<label class="form-check-label" for="profile-{html.escape(c.name)}">'
            f"<strong>{html.escape(c.display_name)}</strong> ({size})"
            f"{'<br>' + html.escape(c.description) if c.description else ''}"
            "</label></div>"
        )
    return "<p>Choose a server:</p>\n" + "\n".join(rows)


def from_form(formdata: dict) -> dict:
    """Form fields -> user_options: only the profile name is taken."""
    values = formdata.get("profile") or []
    return {"profile": values[0]} if values else {}


def applier(available: list[Choice]) -> Callable:
    """A `Spawner.apply_user_options` hook that applies the chosen profile or refuses
    (the same list for everyone: no courses)."""
    return Offer(available, available[0]).apply


class Offer:
    """What each user may pick, decided at their spawn from their course groups.

    A student of a course that applies sees its profiles (and the ones no course
    names); a user in no such course sees the default offer. The hook also gives
    the server its course folders (swarmhub.hub.courses.mounts) and, during an
    exam window of the student's course, reserves the whole limit so no exam
    server is squeezed by a neighbour.
    """

    def __init__(self, available: list[Choice], fallback: Choice, courses=(), clock=None):
        from swarmhub.config.courses import utcnow

        self.available = available
        self.fallback = fallback
        self.courses = list(courses)
        self.clock = clock or utcnow

    def membership(self, spawner, now):
        from swarmhub.hub import courses

        groups = {g.name for g in getattr(spawner.user, "groups", None) or []}
        return courses.membership(self.courses, groups, now)

    def for_membership(self, m) -> list[Choice]:
        from swarmhub.hub import courses

        if not self.courses:
            return self.available
        names = courses.offered([c.name for c in self.available], self.courses, m)
        mine = [c for c in self.available if c.name in names]
        return mine or [self.fallback]

    def form(self, spawner) -> str:
        """`Spawner.options_form`, per user."""
        return form(self.for_membership(self.membership(spawner, self.clock())))

    def apply(self, spawner, user_options: dict) -> None:
        from swarmhub.hub import courses

        now = self.clock()
        m = self.membership(spawner, now)
        try:
            choice = resolve(user_options, self.for_membership(m))
        except ValueError as e:
            err = web.HTTPError(400, str(e))
            err.jupyterhub_message = str(e)
            raise err from None
        spawner.image = choice.image
        spawner.mem_limit = choice.mem_limit
        spawner.mem_guarantee = choice.mem_reservation
        spawner.cpu_limit = choice.cpu_limit
        spawner.cpu_guarantee = choice.cpu_reservation
        exam = courses.exam_now(m, now) if self.courses else None
        if exam is not None:
            # An exam's server gets what it may use set aside: guarantee = limit.
            spawner.mem_guarantee = choice.mem_limit
            spawner.cpu_guarantee = choice.cpu_limit
        if hasattr(spawner, "course_mounts"):
            spawner.course = courses.course_for(m, choice.name)
            spawner.course_mounts = courses.mounts(
                spawner.courses_host_dir, spawner.notebook_dir, spawner.user.name, m
            )
        spawner.log.info(
            "%s: profile %s (%s)%s",
            spawner.user.name,
            choice.name,
            choice.image,
            f", exam of {exam.name}: reservation = limit" if exam else "",
        )
