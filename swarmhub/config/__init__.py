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
    out.extend(no_node_problems(cfg))
    out.extend(network_problems(cfg))
    out.extend(node_size_problems(cfg))
    return out


def network_problems(cfg: Config) -> list[FieldError]:
    """The overlay must not share addresses with the nodes' network; deploy starts
    no more local workers than the autoscaler would keep."""
    import ipaddress

    out = []
    overlay = ipaddress.ip_network(cfg.swarm.overlay_subnet)
    if cfg.aws is not None:
        field, nodes = "aws.fleet.vpc_cidr", cfg.aws.fleet.vpc_cidr
    else:
        field, nodes = "local.node_subnet", cfg.local.node_subnet
    if overlay.overlaps(ipaddress.ip_network(nodes)):
        out.append(
            FieldError(
                "swarm.overlay_subnet",
                f"overlaps {field} ({nodes}); servers' addresses would collide with the "
                "nodes': use e.g. 10.214.0.0/20",
                shown=cfg.swarm.overlay_subnet,
            )
        )
    a = cfg.autoscaler
    if cfg.aws is None and a.enabled and cfg.local.workers > a.max_nodes:
        out.append(
            FieldError(
                "local.workers",
                f"is above autoscaler.max_nodes ({a.max_nodes}); the autoscaler would stop "
                "the extra ones: start at most max_nodes or raise it",
                shown=str(cfg.local.workers),
            )
        )
    return out


def no_node_problems(cfg: Config) -> list[FieldError]:
    """The autoscaler off and no node started: no server could ever run."""
    if cfg.autoscaler.enabled:
        return []
    if cfg.aws is not None:
        field, count = "aws.fleet.min_workers", cfg.aws.fleet.min_workers
    else:
        field, count = "local.workers", cfg.local.workers
    if count > 0:
        return []
    return [
        FieldError(
            field,
            "with autoscaler.enabled false leaves no node to run a server; "
            "start at least 1 worker or turn the autoscaler on",
            shown="0",
        )
    ]


def node_size_problems(cfg: Config) -> list[FieldError]:
    """A server or profile that asks for more than a whole worker could never start.
    On AWS the instance type says the size; the local target's is the host's
    (swarmhub.validate asks the machine)."""
    from swarmhub.config.nodes import worker_size
    from swarmhub.config.types import format_size

    if cfg.aws is None:
        return []
    kind = cfg.aws.fleet.worker_instance_type
    size = worker_size(kind)
    if size is None:
        return []
    return servers_beyond(
        cfg, size, f"a worker ({kind})", "pick a larger aws.fleet.worker_instance_type", format_size
    )


def servers_beyond(
    cfg: Config, size: tuple[int, float], node: str, fix: str, fmt
) -> list[FieldError]:
    """Each server setting (servers.*, each profile) whose reservation is more than `size`."""
    mem, cpus = size
    s = cfg.servers
    wants = [("servers", s.mem_reservation, s.cpu_reservation, True, True)]
    for i, p in enumerate(s.profiles):
        p_mem = p.mem_reservation or min(s.mem_reservation, p.mem_limit or s.mem_limit)
        wants.append(
            (
                f"servers.profiles[{i}]",
                p_mem,
                p.cpu_reservation or s.cpu_reservation,
                p.mem_reservation is not None,
                p.cpu_reservation is not None,
            )
        )
    out = []
    for at, want_mem, want_cpu, own_mem, own_cpu in wants:
        if own_mem and want_mem > mem:
            out.append(
                FieldError(
                    f"{at}.mem_reservation",
                    f"is more than {node} has ({fmt(mem)}), so no node could ever start it; "
                    f"lower it or {fix}",
                    shown=fmt(want_mem),
                )
            )
        elif own_cpu and want_cpu > cpus:
            out.append(
                FieldError(
                    f"{at}.cpu_reservation",
                    f"is more than {node} has ({cpus:g} CPUs), so no node could ever start it; "
                    f"lower it or {fix}",
                    shown=f"{want_cpu:g}",
                )
            )
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
        admins = set(cfg.hub.auth.admin_users)
        for j, entry in enumerate(course.roster):
            if entry in admins:
                out.append(
                    FieldError(
                        f"{at}.roster[{j}]",
                        f"`{entry}` is a hub admin; on a roster the course's staff could manage "
                        "the admin's server: take them off, and give them a separate account "
                        "for the course",
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
