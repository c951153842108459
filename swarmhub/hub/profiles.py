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


def choices(servers, default_image: str) -> list[Choice]:
    """The choices a user has, first one the default. `servers` is a ServersConfig."""
    if not servers.profiles:
        return [
            Choice(
                name=DEFAULT,
                display_name="Default",
                description="",
                image=default_image,
                mem_limit=servers.mem_limit,
                mem_reservation=servers.mem_reservation,
                cpu_limit=servers.cpu_limit,
                cpu_reservation=servers.cpu_reservation,
            )
        ]
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
    """A `Spawner.apply_user_options` hook that applies the chosen profile or refuses."""

    def apply(spawner, user_options: dict) -> None:
        try:
            choice = resolve(user_options, available)
        except ValueError as e:
            err = web.HTTPError(400, str(e))
            err.jupyterhub_message = str(e)
            raise err from None
        spawner.image = choice.image
        spawner.mem_limit = choice.mem_limit
        spawner.mem_guarantee = choice.mem_reservation
        spawner.cpu_limit = choice.cpu_limit
        spawner.cpu_guarantee = choice.cpu_reservation
        spawner.log.info("%s: profile %s (%s)", spawner.user.name, choice.name, choice.image)

    return apply
