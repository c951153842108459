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

from tornado import web

from swarmhub.config.types import format_size
from swarmhub.courses.sizing import (  # noqa: F401 - the hub's names for the one rule
    DEFAULT,
    Catalogue,
    Choice,
    choices,
    default_choice,
    resolve,
)


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


class Offer(Catalogue):
    """What each user may pick, decided at their spawn from their course groups.

    A student of a course that applies sees its profiles (and the ones no course
    names); a user in no such course sees the default offer. The hook also gives
    the server its course folders (swarmhub.hub.courses.mounts) and its size
    from the one rule (swarmhub.courses.sizing): during an exam window of the
    student's course, reservation = limit.
    """

    def __init__(self, available: list[Choice], fallback: Choice, courses=(), clock=None):
        from swarmhub.config.courses import utcnow

        super().__init__(available, fallback, courses)
        self.clock = clock or utcnow

    def user_membership(self, spawner, now):
        groups = {g.name for g in getattr(spawner.user, "groups", None) or []}
        return self.membership(groups, now)

    def form(self, spawner) -> str:
        """`Spawner.options_form`, per user."""
        return form(self.for_membership(self.user_membership(spawner, self.clock())))

    def apply(self, spawner, user_options: dict) -> None:
        from swarmhub.hub import courses

        now = self.clock()
        m = self.user_membership(spawner, now)
        try:
            size = self.size(user_options, m, now)
        except ValueError as e:
            err = web.HTTPError(400, str(e))
            err.jupyterhub_message = str(e)
            raise err from None
        choice, exam = size.choice, size.exam
        spawner.image = choice.image
        spawner.mem_limit = choice.mem_limit
        spawner.cpu_limit = choice.cpu_limit
        spawner.mem_guarantee = size.mem
        spawner.cpu_guarantee = size.cpu
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
