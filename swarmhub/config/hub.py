"""The hub, its sign-in and the user servers it spawns."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from swarmhub.config.images import image_reference
from swarmhub.config.types import Bytes, FieldError, Strict, format_size, from_file

# A user name names a home directory: no "/", no leading "." (so never "..").
USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
USERNAME_RULE = "lower-case letters, digits and _.- , starting with a letter or digit, at most 64"
# GitHub organisation and team slugs, as they appear in URLs.
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_PROFILE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")

AuthKind = Literal["accounts", "shared-password", "github"]


def user_names(value: list[str]) -> list[str]:
    """Lower-cased, as JupyterHub normalises a name at sign-in (GitHub logins too)."""
    for i, name in enumerate(value):
        if not USERNAME.match(name.lower()):
            raise FieldError(f"[{i}]", f"`{name}` is not a user name ({USERNAME_RULE})")
    return [name.lower() for name in value]


class GitHubAuth(Strict):
    """GitHub OAuth. The client secret is never in this file: it comes from the
    environment (SWARMHUB_GITHUB_CLIENT_SECRET) or SSM Parameter Store."""

    # The OAuth app's client id (public; its secret is not written here).
    client_id: str = Field(min_length=1)
    # Where GitHub sends the browser back; default: <the hub's URL>/hub/oauth_callback.
    callback_url: str | None = None
    # Members of these organisations may sign in (private membership needs read:org).
    allowed_organizations: list[str] = []
    # "org:team" slugs as in https://github.com/orgs/<org>/teams/<team>.
    allowed_teams: list[str] = []
    # GitHub logins (not e-mail addresses) that may sign in whatever their membership.
    allowed_users: list[str] = []
    # Base URL of GitHub's web pages, overridable so the tests can use a fake.
    github_url: str = "https://github.com"
    # Base URL of GitHub's API, overridable so the tests can use a fake.
    github_api: str = "https://api.github.com"

    @field_validator("client_id")
    @classmethod
    def _client_id(cls, value: str) -> str:
        if value == "CHANGE-ME":
            raise ValueError(
                "is the placeholder `init` wrote; set your GitHub OAuth app's client id"
            )
        return value

    @field_validator("allowed_organizations")
    @classmethod
    def _orgs(cls, value: list[str]) -> list[str]:
        for i, org in enumerate(value):
            if not _SLUG.match(org):
                raise FieldError(
                    f"[{i}]",
                    f"`{org}` is not an organisation name (for a team: allowed_teams, 'org:team')",
                )
        return value

    @field_validator("allowed_teams")
    @classmethod
    def _teams(cls, value: list[str]) -> list[str]:
        for i, item in enumerate(value):
            org, sep, team = item.partition(":")
            if not (sep and _SLUG.match(org) and _SLUG.match(team)):
                raise FieldError(
                    f"[{i}]", f"`{item}` is not 'org:team' (the slugs in the team's URL)"
                )
        return value

    @field_validator("allowed_users")
    @classmethod
    def _users(cls, value: list[str]) -> list[str]:
        for i, name in enumerate(value):
            if "@" in name.strip("@"):
                raise FieldError(
                    f"[{i}]",
                    f"`{name}` is an e-mail address; GitHub sign-in matches logins: "
                    f"write the GitHub login, e.g. {name.split('@')[0].lower()}",
                )
            if not _SLUG.match(name):
                raise FieldError(f"[{i}]", f"`{name}` is not a GitHub login")
        # The hub compares them with the lower-cased name: "Linus" would never match.
        return [name.lower() for name in value]

    @model_validator(mode="after")
    def _someone_admitted(self) -> GitHubAuth:
        # Without a list, every GitHub account in the world could sign in.
        if not (self.allowed_organizations or self.allowed_teams or self.allowed_users):
            raise ValueError(
                "admits nobody in particular, so any GitHub account could sign in; "
                "set allowed_organizations, allowed_teams or allowed_users"
            )
        return self

    @property
    def uses_membership(self) -> bool:
        """True when sign-in depends on organisation or team membership."""
        return bool(self.allowed_organizations or self.allowed_teams)


class AuthConfig(Strict):
    # accounts: a password per user (`pipeline.py users add`); shared-password: one
    # class password, anyone can sign in as anyone (a workshop); github: GitHub OAuth.
    kind: AuthKind = "accounts"
    # Hub admins; with github they must be named (no default), being GitHub logins.
    admin_users: list[str] = ["admin"]
    # GitHub OAuth, with kind: github.
    github: GitHubAuth | None = None

    @field_validator("kind", mode="before")
    @classmethod
    def _known_kind(cls, value: object) -> object:
        if value == "native":
            raise ValueError(
                "is not provided by swarmhub (JupyterHub would fall back to PAM and nobody "
                "could sign in); use `accounts`: a password per student from "
                "`python pipeline.py users add`"
            )
        return value

    @field_validator("admin_users")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        return user_names(value)

    @model_validator(mode="after")
    def _github_section(self) -> AuthConfig:
        if self.kind == "github":
            if self.github is None:
                raise FieldError(
                    "kind", "needs a `github:` section with client_id and who may sign in"
                )
            # The default `admin` would make whoever owns the GitHub login `admin` an admin.
            if "admin_users" not in self.model_fields_set:
                raise FieldError(
                    "admin_users",
                    "is not set; with GitHub sign-in, name the hub's admins by their GitHub "
                    "logins, e.g. admin_users: [your-login]",
                )
        elif self.github is not None:
            raise FieldError("github", f"is set but kind is `{self.kind}`; set kind: github")
        return self


# Below this no notebook server starts (JupyterLab alone takes ~100M); 4M meant 4G.
MIN_MEM_LIMIT = 128 * 1024**2


def _too_small(size: int) -> str:
    guess = format_size(size * 1024) if size >= 1024**2 else "2G"
    return (
        f"is too small for a notebook server (at least {format_size(MIN_MEM_LIMIT)}); "
        f"did you mean {guess}?"
    )


class Profile(Strict):
    """A server size/image a user may pick. Unset fields take the `servers` defaults."""

    # Its key in the spawn form and the API (lower case, digits, '-').
    name: str
    # What the spawn page shows.
    display_name: str
    # A line under it on the spawn page.
    description: str = ""
    # The notebook image, by tag or digest; default: the baked notebook image.
    image: str | None = None
    # The most memory this profile's server may use; default: servers.mem_limit.
    mem_limit: Bytes | None = None
    # Memory set aside for it; default: servers.mem_reservation, capped at its limit.
    mem_reservation: Bytes | None = None
    # The most CPUs it may use; default: servers.cpu_limit.
    cpu_limit: float | None = Field(default=None, gt=0, description="CPUs")
    # CPUs set aside for it; default: servers.cpu_reservation.
    cpu_reservation: float | None = Field(default=None, gt=0, description="CPUs")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _PROFILE_NAME.match(value):
            raise ValueError(
                "is not a profile name; use lower-case letters, digits and '-', "
                "at most 32, e.g. large"
            )
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        return None if value is None else image_reference(value)


class ServersConfig(Strict):
    """Each user's server: reservations let the swarm (and the autoscaler) know
    when a node is full; limits keep one user from starving the others."""

    # The most memory one server may use; at least 128M.
    mem_limit: Bytes = "2G"  # type: ignore[assignment]
    # Memory the swarm sets aside for a server: how full a node is.
    mem_reservation: Bytes = "1G"  # type: ignore[assignment]
    # The most CPUs one server may use.
    cpu_limit: float = Field(default=1.0, gt=0, description="CPUs")
    # CPUs the swarm sets aside for a server.
    cpu_reservation: float = Field(default=0.25, gt=0, description="CPUs")
    # How long a spawn may take, a new node's boot included.
    start_timeout: int = Field(default=300, gt=0, description="seconds")
    # How long a started server may take to answer HTTP (a busy node answers late).
    http_timeout: int = Field(default=180, gt=0, description="seconds")
    # A server without activity this long is stopped; 0 never.
    idle_timeout: int = Field(default=3600, ge=0, description="seconds")
    # What a student may pick; only these images and sizes run.
    profiles: list[Profile] = []

    @model_validator(mode="after")
    def _reservation_within_limit(self, info: ValidationInfo) -> ServersConfig:
        # An operator's file only: the program's own data (tests, simulations) may be tiny.
        operator = from_file(info)
        if operator and self.mem_limit < MIN_MEM_LIMIT:
            raise FieldError(
                "mem_limit", _too_small(self.mem_limit), shown=format_size(self.mem_limit)
            )
        if self.mem_reservation > self.mem_limit:
            raise FieldError(
                "mem_reservation",
                f"is above mem_limit ({format_size(self.mem_limit)}); "
                "a reservation must not exceed the limit",
                shown=format_size(self.mem_reservation),
            )
        if self.cpu_reservation > self.cpu_limit:
            raise FieldError(
                "cpu_reservation",
                f"is above cpu_limit ({self.cpu_limit:g}); a reservation must not exceed the limit",
                shown=f"{self.cpu_reservation:g}",
            )
        seen: set[str] = set()
        for i, p in enumerate(self.profiles):
            if p.name in seen:
                raise FieldError(
                    f"profiles[{i}].name", f"`{p.name}` is used twice; profile names are unique"
                )
            seen.add(p.name)
            if operator and p.mem_limit is not None and p.mem_limit < MIN_MEM_LIMIT:
                raise FieldError(f"profiles[{i}].mem_limit", _too_small(p.mem_limit))
            # A profile that only lowers the limit gets its reservation capped to it
            # (swarmhub.hub.profiles); one that sets a reservation above it is a mistake.
            mem_lim = p.mem_limit or self.mem_limit
            if p.mem_reservation is not None and p.mem_reservation > mem_lim:
                raise FieldError(
                    f"profiles[{i}].mem_reservation",
                    f"is above the profile's mem_limit ({format_size(mem_lim)}); "
                    "a reservation must not exceed the limit",
                )
            cpu_lim = p.cpu_limit or self.cpu_limit
            if p.cpu_reservation is not None and p.cpu_reservation > cpu_lim:
                raise FieldError(
                    f"profiles[{i}].cpu_reservation",
                    f"is above the profile's cpu_limit ({cpu_lim:g}); "
                    "a reservation must not exceed the limit",
                )
        return self


class QuotaConfig(Strict):
    """Disk use per home. EFS has no per-user quota: usage is measured by the hub."""

    # Above this a student is warned on the home and spawn pages.
    soft: Bytes | None = None
    # Above this a student's server does not start until they delete files.
    hard: Bytes | None = None

    @model_validator(mode="after")
    def _order(self) -> QuotaConfig:
        if self.soft is not None and self.hard is not None and self.soft > self.hard:
            raise FieldError(
                "soft",
                f"is above hard ({format_size(self.hard)}); "
                "the warning must come before the refusal",
                shown=format_size(self.soft),
            )
        return self


# Ports the manager already listens on: the proxy cannot take them too.
RESERVED_PORTS = {
    2377: "Docker Swarm's cluster management port",
    7946: "Docker Swarm's node-to-node gossip port",
    4789: "Docker Swarm's overlay network (VXLAN) port",
    2380: "the local pool agent's port",
    8081: "the hub's own API port",
}


class HubConfig(Strict):
    # Where the proxy listens on the manager; not a port the manager already uses
    # (2377, 7946, 4789: Swarm; 2380: the pool agent; 8081: the hub's API).
    port: int = Field(default=8000, ge=1, le=65535)
    # off, or self-signed (local): a certificate made by deploy for this machine.
    https: Literal["off", "self-signed"] = "off"
    auth: AuthConfig = AuthConfig()

    @field_validator("port")
    @classmethod
    def _free_port(cls, value: int) -> int:
        if value in RESERVED_PORTS:
            raise ValueError(
                f"is {RESERVED_PORTS[value]}; the proxy cannot listen there too: "
                "use another, e.g. 8000"
            )
        return value
