"""One typed config model for swarmhub.yaml.

Defaults live in the section models and nowhere else; unknown keys are
rejected; every mistake is one line naming the file, the line, the field and
what to do (swarmhub.config.problems), all of them at once. Secrets are never
in this model: they are read from the environment or generated and stored by
the target (see swarmhub.swarm.secrets), and a secret written into the file is
refused (swarmhub.config.secrets_scan).
"""

from __future__ import annotations

import re
import weakref
from pathlib import Path
from typing import Literal

from pydantic import ValidationError, field_validator, model_validator

from swarmhub.config.autoscaler import AutoscalerConfig, calendar_defaults
from swarmhub.config.aws import AwsConfig
from swarmhub.config.courses import CONFIG_DIR, Course
from swarmhub.config.hub import HubConfig, QuotaConfig, ServersConfig
from swarmhub.config.images import ImagesConfig
from swarmhub.config.lifecycle import LifecycleConfig
from swarmhub.config.local import LocalConfig
from swarmhub.config.problems import ConfigError, FieldErrors, Problem, dotted, translate
from swarmhub.config.regions import region_problem
from swarmhub.config.source import ReadError, Source
from swarmhub.config.swarm import SwarmConfig
from swarmhub.config.types import FROM_FILE, FieldError, Strict

Target = Literal["local", "aws"]


# Seconds a spawn needs beyond a node's boot: the join, the autoscaler's poll,
# the server's own start.
START_MARGIN = 60

# id(config) -> its Source, dropped with the config.
_SOURCES: dict[int, Source] = {}


def _remember(cfg: Config, src: Source | None) -> Config:
    if src is not None:
        _SOURCES[id(cfg)] = src
        weakref.finalize(cfg, _SOURCES.pop, id(cfg), None)
    return cfg


_NAME = re.compile(r"^[a-z][a-z0-9-]{0,23}$")


class Config(Strict):
    # Names the deployment: swarm labels, AWS resources.
    name: str = "swarmhub"
    hub: HubConfig = HubConfig()
    servers: ServersConfig = ServersConfig()
    quota: QuotaConfig = QuotaConfig()
    images: ImagesConfig = ImagesConfig()
    autoscaler: AutoscalerConfig = AutoscalerConfig()
    lifecycle: LifecycleConfig = LifecycleConfig()
    swarm: SwarmConfig = SwarmConfig()
    local: LocalConfig = LocalConfig()
    # Present: --target aws becomes the default.
    aws: AwsConfig | None = None
    # Classes: rosters, staff, profiles, meeting times and dates (docs/courses.md).
    courses: list[Course] = []

    @model_validator(mode="before")
    @classmethod
    def _calendar(cls, data: object) -> object:
        # With a calendar, min_nodes defaults to 0 (config/autoscaler.py).
        return calendar_defaults(data)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                "is not a deployment name; use lower-case letters, digits and '-', "
                "starting with a letter, at most 24, e.g. physics-101"
            )
        return value

    @model_validator(mode="after")
    def _across_sections(self) -> Config:
        errors = cross_section(self)
        if errors:
            raise FieldErrors(errors)
        return self

    def default_target(self) -> Target:
        return "aws" if self.aws is not None else "local"

    @property
    def source(self) -> Source | None:
        """Where the file wrote each field (configs from load_config), for checks
        made after loading; kept beside the model so equal configs stay equal."""
        return _SOURCES.get(id(self))


def cross_section(cfg: Config) -> list[FieldError]:
    """Checks that need two sections; each blames the field to change."""
    out = []
    # A server that waits for a new node must not time out before it boots.
    need = cfg.autoscaler.node_boot_seconds + START_MARGIN
    if cfg.autoscaler.enabled and cfg.servers.start_timeout < need:
        out.append(
            FieldError(
                "servers.start_timeout",
                f"must be at least autoscaler.node_boot_seconds + {START_MARGIN} ({need} s), "
                "or a student whose server waits for a new node times out before it boots",
                shown=f"{cfg.servers.start_timeout}",
            )
        )
    if cfg.aws is not None:
        problem = region_problem(cfg.aws.region)
        if problem:
            out.append(FieldError("aws.region", problem))
        backend_region = cfg.aws.fleet.backend.region
        if backend_region and region_problem(backend_region):
            out.append(FieldError("aws.fleet.backend.region", region_problem(backend_region)))
        fleet = cfg.aws.fleet
        if cfg.autoscaler.max_nodes > fleet.max_workers:
            out.append(
                FieldError(
                    "autoscaler.max_nodes",
                    f"is above aws.fleet.max_workers ({fleet.max_workers}); the worker group "
                    "cannot grow that far: raise max_workers or lower max_nodes",
                    shown=str(cfg.autoscaler.max_nodes),
                )
            )
    out.extend(course_problems(cfg))
    return out


def course_problems(cfg: Config) -> list[FieldError]:
    """What a course asks of the other sections: known profiles, teams only with
    GitHub sign-in, windows within max_nodes, names used once."""
    out = []
    profiles = {p.name for p in cfg.servers.profiles}
    kind = cfg.hub.auth.kind
    seen: dict[str, int] = {}
    for i, course in enumerate(cfg.courses):
        at = f"courses[{i}]"
        if course.name in seen:
            out.append(
                FieldError(
                    f"{at}.name",
                    f"`{course.name}` is also courses[{seen[course.name]}]; "
                    "course names are unique",
                )
            )
        seen.setdefault(course.name, i)
        for j, name in enumerate(course.profiles):
            if name not in profiles:
                known = ", ".join(sorted(profiles)) or "none are defined"
                out.append(
                    FieldError(
                        f"{at}.profiles[{j}]",
                        f"`{name}` is not in servers.profiles ({known}); define it there first",
                    )
                )
        if kind != "github":
            for which in ("roster", "staff"):
                for j, entry in enumerate(getattr(course, which)):
                    if ":" in entry:
                        out.append(
                            FieldError(
                                f"{at}.{which}[{j}]",
                                f"`{entry}` is a GitHub team but hub.auth.kind is `{kind}`; "
                                "name the users, or sign in with kind: github",
                            )
                        )
        for j, window in enumerate(course.windows):
            if window.min_nodes > cfg.autoscaler.max_nodes:
                out.append(
                    FieldError(
                        f"{at}.windows[{j}].min_nodes",
                        f"is above autoscaler.max_nodes ({cfg.autoscaler.max_nodes}); "
                        "raise max_nodes or ask for fewer",
                    )
                )
    return out


def _drop_nulls(data: dict) -> dict:
    # A section whose keys are all commented out is null in YAML: its defaults apply.
    return {key: value for key, value in data.items() if value is not None or key == "aws"}


def check_data(
    data: object,
    source: str,
    src: Source | None = None,
    *,
    operator: bool = True,
    config_dir: str | None = None,
) -> Config:
    """Validate `data` (parsed YAML) as an operator's file; every mistake in one
    ConfigError, each on its own line. `operator=False`: a file the program rendered
    (hub-config.json), whose sizes are bytes."""
    from swarmhub.config import secrets_scan

    if data is None:
        data = {}
    if not isinstance(data, dict):
        where = src.where(()) if src else source
        raise ConfigError([Problem(where, "", "the top level must be a mapping of sections")])
    problems: list[Problem] = []
    secret_locs = []
    for loc, what in secrets_scan.find(data):
        secret_locs.append(loc)
        where = src.where(loc, key=True) if src else source
        mark = src.mark(loc, key=True) if src else None
        problems.append(
            Problem(
                where,
                dotted(loc),
                f"{what}; {secrets_scan.WHERE_SECRETS_GO}",
                mark.line if mark else 0,
            )
        )
    try:
        context = {FROM_FILE: operator, CONFIG_DIR: config_dir}
        cfg = Config.model_validate(_drop_nulls(data), context=context)
    except ValidationError as exc:
        for p in translate(exc.errors(), src, source, Config):
            if not any(p.field.startswith(dotted(loc)) for loc in secret_locs):
                problems.append(p)
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    return _remember(cfg, src)


def parse_config(data: object, source: str) -> Config:
    """Validate `data` a program wrote (settings.json, tests): sizes may be bytes.
    One ConfigError with every mistake on failure."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([Problem(source, "", "the top level must be a mapping of sections")])
    try:
        return Config.model_validate(_drop_nulls(data))
    except ValidationError as exc:
        raise ConfigError(translate(exc.errors(), None, source, Config)) from None


def load_config(path: str | Path, *, missing_ok: bool = False) -> Config:
    """Read and validate swarmhub.yaml. A missing file is an error unless `missing_ok`,
    in which case the defaults (the local target) apply. A `.json` file is one the
    program rendered (the manager's hub-config.json): its sizes are bytes."""
    from swarmhub.config import source as yaml_source

    path = Path(path)
    try:
        if missing_ok and not path.exists():
            return Config()
    except OSError:
        pass
    try:
        data, src = yaml_source.read(path)
    except ReadError as exc:
        raise ConfigError([Problem(exc.where, "", exc.message)]) from None
    return check_data(
        data, str(path), src, operator=path.suffix != ".json", config_dir=str(path.parent)
    )


__all__ = [
    "Config",
    "ConfigError",
    "Target",
    "load_config",
    "parse_config",
    "check_data",
    "ServersConfig",
    "QuotaConfig",
]
