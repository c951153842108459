"""The hub, its sign-in and the user servers it spawns."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from swarmhub.config.types import Bytes, Strict

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
# GitHub organisation and team slugs, as they appear in URLs.
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class GitHubAuth(Strict):
    """GitHub OAuth. The client secret is never in this file: it comes from the
    environment (SWARMHUB_GITHUB_CLIENT_SECRET) or SSM Parameter Store."""

    client_id: str = Field(min_length=1)
    callback_url: str | None = None
    # Members of these organisations may sign in (private membership needs read:org).
    allowed_organizations: list[str] = []
    # "org:team" slugs as in https://github.com/orgs/<org>/teams/<team>.
    allowed_teams: list[str] = []
    allowed_users: list[str] = []
    # Base URLs, overridable so the tests can point the real authenticator at a fake.
    github_url: str = "https://github.com"
    github_api: str = "https://api.github.com"

    @field_validator("allowed_organizations")
    @classmethod
    def _orgs(cls, value: list[str]) -> list[str]:
        for org in value:
            if not _SLUG.match(org):
                raise ValueError(f"'{org}' is not an organisation name (for a team: allowed_teams)")
        return value

    @field_validator("allowed_teams")
    @classmethod
    def _teams(cls, value: list[str]) -> list[str]:
        for item in value:
            org, sep, team = item.partition(":")
            if not (sep and _SLUG.match(org) and _SLUG.match(team)):
                raise ValueError(f"'{item}' is not 'org:team' (the slugs in the team's URL)")
        return value

    @property
    def uses_membership(self) -> bool:
        """True when sign-in depends on organisation or team membership."""
        return bool(self.allowed_organizations or self.allowed_teams)


class AuthConfig(Strict):
    kind: Literal["shared-password", "native", "github"] = "shared-password"
    admin_users: list[str] = ["admin"]
    github: GitHubAuth | None = None

    @field_validator("admin_users")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _USERNAME.match(name):
                raise ValueError(f"'{name}' is not a valid user name (lower case, digits, _.-)")
        return value

    @model_validator(mode="after")
    def _github_section(self) -> AuthConfig:
        if self.kind == "github" and self.github is None:
            raise ValueError("kind 'github' needs a 'github' section with client_id")
        return self


class Profile(Strict):
    """A server size/image a user may pick. Unset fields take the `servers` defaults."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")
    display_name: str
    description: str = ""
    image: str | None = None
    mem_limit: Bytes | None = None
    mem_reservation: Bytes | None = None
    cpu_limit: float | None = Field(default=None, gt=0)
    cpu_reservation: float | None = Field(default=None, gt=0)


class ServersConfig(Strict):
    """Each user's server: reservations let the swarm (and the autoscaler) know
    when a node is full; limits keep one user from starving the others."""

    mem_limit: Bytes = "2G"  # type: ignore[assignment]
    mem_reservation: Bytes = "1G"  # type: ignore[assignment]
    cpu_limit: float = Field(default=1.0, gt=0)
    cpu_reservation: float = Field(default=0.25, gt=0)
    start_timeout: int = Field(default=300, gt=0, description="seconds")
    idle_timeout: int = Field(default=3600, ge=0, description="seconds; 0 disables culling")
    profiles: list[Profile] = []

    @model_validator(mode="after")
    def _reservation_within_limit(self) -> ServersConfig:
        if self.mem_reservation > self.mem_limit:
            raise ValueError("mem_reservation must not exceed mem_limit")
        if self.cpu_reservation > self.cpu_limit:
            raise ValueError("cpu_reservation must not exceed cpu_limit")
        names = [p.name for p in self.profiles]
        if len(names) != len(set(names)):
            raise ValueError("profile names must be unique")
        return self


class QuotaConfig(Strict):
    """Disk use per home. EFS has no per-user quota: usage is measured by the hub."""

    soft: Bytes | None = None
    hard: Bytes | None = None

    @model_validator(mode="after")
    def _order(self) -> QuotaConfig:
        if self.soft is not None and self.hard is not None and self.soft > self.hard:
            raise ValueError("soft must not exceed hard")
        return self


class HubConfig(Strict):
    port: int = Field(default=8000, ge=1, le=65535)
    https: Literal["off", "self-signed"] = "off"
    auth: AuthConfig = AuthConfig()
