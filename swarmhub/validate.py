"""`python pipeline.py validate`: every check a deploy or bake would meet later, now.

Offline by default: no root, no Docker, no AWS call. It reads the config (all
its mistakes, one line each), then asks this machine what only it can tell
(a home directory that is an account's home, a file in a directory's place,
the tools a target needs on PATH, a secret deploy takes from the environment).
`--online` also asks AWS: credentials, the region, the baked AMIs, the tools'
versions. `bake`, `deploy` and `destroy` run the offline checks first.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime

import click

from swarmhub.config import Config, ConfigError, load_config
from swarmhub.config.problems import Problem, dotted, parse_field
from swarmhub.errors import SwarmhubError

# What each command needs beyond a valid config.
NEEDS = {
    "validate": {"packer", "terraform", "github-secret", "sign-in"},
    "bake": {"packer", "root"},
    "deploy": {"terraform", "github-secret", "sign-in", "root", "images"},
    # `deploy --plan` and `render` read and write files only: no root, no engine.
    "plan": {"sign-in"},
    "render": {"sign-in"},
    # Taking a hub down never waits on how it signs people in.
    "destroy": {"terraform", "root"},
}


def _problem(cfg: Config, loc: tuple, text: str, *, key: bool = False) -> Problem:
    src = cfg.source
    field = dotted(loc)
    if src is None:
        return Problem("swarmhub.yaml (defaults)", field, text)
    mark = src.mark(loc, key=key)
    return Problem(src.where(loc, key=key), field, text, mark.line if mark else 0)


def _written(cfg: Config, loc: tuple, value: str) -> str:
    src = cfg.source
    scalar = src.scalars.get(loc) if src else None
    if scalar is not None:
        return f"`{scalar.text}` "
    return f"the default (`{value}`) "


def local_problems(cfg: Config, command: str) -> list[Problem]:
    """The local target's checks against this machine (read-only)."""
    from swarmhub.config.paths_safety import host_problem

    out = []
    for role in ("state_dir", "homes_dir"):
        path = getattr(cfg.local, role)
        problem = host_problem(path, role)
        if problem:
            loc = ("local", role)
            out.append(_problem(cfg, loc, _written(cfg, loc, path) + problem))
    out.extend(_larger_than_this_machine(cfg))
    out.extend(_overlay_too_small(cfg, _this_machine()))
    needs = NEEDS[command]
    if "root" in needs and os.geteuid() != 0:
        out.append(
            _problem(
                cfg,
                (),
                f"`{command}` on the local target must run as root (it manages the Docker "
                "engine, network namespaces and bridges); run it with sudo",
            )
        )
    if "github-secret" in needs and cfg.hub.auth.kind == "github":
        from swarmhub.swarm.secrets import GITHUB_CLIENT_SECRET_ENV

        if not os.environ.get(GITHUB_CLIENT_SECRET_ENV, "").strip():
            out.append(
                _problem(
                    cfg,
                    ("hub", "auth", "kind"),
                    f"is github but {GITHUB_CLIENT_SECRET_ENV} is not set; export it with "
                    "your GitHub OAuth app's client secret (it goes straight into a Swarm secret)",
                )
            )
    # Only worth saying of a config that is otherwise ready.
    if "images" in needs and not out:
        from swarmhub.local.paths import paths

        if not paths(cfg).images_file.exists():
            loc = ("local", "state_dir")
            out.append(
                _problem(
                    cfg,
                    loc,
                    _written(cfg, loc, cfg.local.state_dir)
                    + "holds no baked images yet; run `python pipeline.py bake` first",
                )
            )
    return out


def _larger_than_this_machine(cfg: Config) -> list[Problem]:
    """A local node offers this machine's memory and CPUs: a server asking for more
    could never start."""
    from swarmhub.config import servers_beyond
    from swarmhub.config.types import format_size

    size = _this_machine()
    if size is None:
        return []
    found = servers_beyond(cfg, size, "this machine", "run on a larger one", format_size)
    return [
        _problem(
            cfg, parse_field(e.field), _written(cfg, parse_field(e.field), e.shown) + e.message
        )
        for e in found
    ]


def _overlay_too_small(cfg: Config, node: tuple[int, float] | None) -> list[Problem]:
    """Every server takes an overlay address: a subnet that cannot hold the
    fullest fleet the config allows fails at the end of term, not now."""
    from swarmhub.courses.sizing import choices
    from swarmhub.swarm.network import overlay_problem

    if node is None:
        return []
    sizes = [(c.mem_reservation, c.cpu_reservation) for c in choices(cfg.servers, "")]
    nodes = max(cfg.autoscaler.max_nodes, cfg.local.workers if cfg.aws is None else 0)
    line = overlay_problem(cfg.swarm.overlay_subnet, nodes, *node, sizes)
    if not line:
        return []
    loc = ("swarm", "overlay_subnet")
    return [
        _problem(cfg, loc, _written(cfg, loc, cfg.swarm.overlay_subnet) + "is too small: " + line)
    ]


def aws_problems(cfg: Config, command: str) -> list[Problem]:
    """The AWS target's checks that need no AWS call."""
    if cfg.aws is None:
        return [
            _problem(
                cfg,
                (),
                "--target aws needs an `aws:` section with at least `region:`; "
                "see swarmhub.example.yaml",
            )
        ]
    # What deploy and bake refuse later, in their words (AwsConfig.refusals).
    out = [_problem(cfg, r.field, f"{r.message}; {r.hint}") for r in cfg.aws.refusals(command)]
    if cfg.hub.https != "off":
        loc = ("hub", "https")
        out.append(
            _problem(
                cfg,
                loc,
                _written(cfg, loc, cfg.hub.https)
                + "is ignored on AWS: the hub serves HTTPS with a Let's Encrypt certificate "
                "when aws.fleet.domain is set; remove it",
            )
        )
    from swarmhub.config.nodes import worker_size

    out.extend(_overlay_too_small(cfg, worker_size(cfg.aws.fleet.worker_instance_type)))
    needs = NEEDS[command]
    if "sign-in" in needs and cfg.hub.auth.kind == "accounts":
        out.append(
            _problem(
                cfg,
                ("hub", "auth", "kind"),
                "is accounts (the default), which the local target keeps; on AWS sign in "
                "with GitHub (kind: github) or, for a workshop, kind: shared-password",
            )
        )
    if "packer" in needs:
        from swarmhub.aws import packer

        try:
            packer.find(cfg)
        except SwarmhubError as exc:
            loc = ("aws", "ami", "packer_binary")
            out.append(_problem(cfg, loc, f"{exc.message}; {exc.hint}"))
    if "terraform" in needs:
        from swarmhub.aws import terraform

        try:
            terraform.find_binary(cfg.aws.fleet.terraform_binary)
        except SwarmhubError as exc:
            loc = ("aws", "fleet", "terraform_binary")
            out.append(_problem(cfg, loc, f"{exc.message}; {exc.hint}"))
    return out


def online_problems(cfg: Config, target: str) -> list[Problem]:
    """Checks that ask AWS (and run the tools): only with --online, only for aws."""
    if target != "aws" or cfg.aws is None:
        return []
    out = []
    try:
        import boto3
        import botocore.exceptions as bex

        session = boto3.session.Session(region_name=cfg.aws.region)
        session.client("sts").get_caller_identity()
        ec2 = session.client("ec2")
        regions = ec2.describe_regions(RegionNames=[cfg.aws.region], AllRegions=True)["Regions"]
        status = regions[0].get("OptInStatus", "") if regions else "absent"
        if status == "not-opted-in" or status == "absent":
            out.append(
                _problem(
                    cfg,
                    ("aws", "region"),
                    f"`{cfg.aws.region}` is not enabled for this account; enable it in the "
                    "AWS console (Account > AWS Regions) or pick another",
                )
            )
        from swarmhub.aws.amis import read_ami_state

        images = read_ami_state(cfg)
        ids = [e["ami_id"] for e in images.values() if "ami_id" in e]
        if ids:
            # A filter, not ImageIds: an id that is gone is an answer, not an error.
            filters = [{"Name": "image-id", "Values": ids}]
            found = {i["ImageId"] for i in ec2.describe_images(Filters=filters)["Images"]}
            for name, entry in images.items():
                if entry.get("ami_id") not in found:
                    out.append(
                        _problem(
                            cfg,
                            ("aws", "ami"),
                            f"the baked {name} AMI {entry.get('ami_id')} is gone from "
                            f"{cfg.aws.region}; run `pipeline.py bake --target aws`",
                        )
                    )
    except bex.NoCredentialsError:
        out.append(
            _problem(cfg, ("aws",), "no AWS credentials; set AWS_PROFILE or run `aws configure`")
        )
    except bex.ClientError as exc:
        out.append(_problem(cfg, ("aws",), f"AWS refused: {exc.response['Error']['Message']}"))
    except bex.BotoCoreError as exc:
        out.append(_problem(cfg, ("aws",), f"AWS cannot be reached: {exc}"))
    from swarmhub.aws import packer, terraform

    for name, check in (
        ("packer", lambda: packer.check_version(packer.find(cfg))),
        (
            "terraform",
            lambda: terraform.check_version(terraform.find_binary(cfg.aws.fleet.terraform_binary)),
        ),
    ):
        try:
            check()
        except SwarmhubError as exc:
            out.append(_problem(cfg, ("aws",), f"{name}: {exc}"))
    return out


def problems(cfg: Config, target: str, command: str = "validate") -> list[Problem]:
    if target == "aws":
        return aws_problems(cfg, command)
    return local_problems(cfg, command)


def require(cfg: Config, target: str, command: str) -> None:
    """Raise one ConfigError listing every problem; for bake, deploy and destroy."""
    found = problems(cfg, target, command)
    if found:
        raise ConfigError(found)


def utcnow() -> datetime:
    """The clock of the warnings; a function so tests can set it."""
    return datetime.now(UTC)


def warnings(cfg: Config, now: datetime | None = None) -> list[str]:
    """Plausible but likely harmful settings: one line each; they do not fail validate."""
    from swarmhub.accounts import shared_password_warning

    now = now or utcnow()
    out = []
    warning = shared_password_warning(cfg)
    if warning:
        out.append(warning)
    for i, course in enumerate(cfg.courses):
        if course.end < course.today(now):
            loc = ("courses", i, "end")
            out.append(
                str(
                    _problem(
                        cfg,
                        loc,
                        _written(cfg, loc, str(course.end))
                        + "has passed; its groups, staff role, profiles and windows no longer "
                        "apply: remove the course or update its dates",
                    )
                )
            )
    headroom = _headroom_warning(cfg)
    if headroom:
        out.append(headroom)
    return out


def _headroom_warning(cfg: Config) -> str | None:
    """Headroom more than max_nodes can hold keeps every node up and is never met."""
    from swarmhub.config.nodes import worker_size

    if cfg.aws is not None:
        node = cfg.aws.fleet.worker_instance_type
        size = worker_size(node)
    else:
        node = "this machine"
        size = _this_machine()
    if size is None:
        return None
    memory, cpus = size
    per_node = min(memory // cfg.servers.mem_reservation, int(cpus / cfg.servers.cpu_reservation))
    hold = per_node * cfg.autoscaler.max_nodes
    # A server larger than a node is an error of its own (servers_beyond).
    if per_node == 0 or cfg.autoscaler.headroom_slots <= hold:
        return None
    loc = ("autoscaler", "headroom_slots")
    text = (
        f"is more than max_nodes ({cfg.autoscaler.max_nodes}) nodes of {node} hold "
        f"({hold} servers); every node would run all the time and the headroom is never "
        "there: lower it or raise max_nodes"
    )
    return str(_problem(cfg, loc, _written(cfg, loc, str(cfg.autoscaler.headroom_slots)) + text))


def _this_machine() -> tuple[int, float] | None:
    """A local node's size: this machine's memory and CPUs (dockerd reports the host's)."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return None
    return memory, float(os.cpu_count() or 1)


def main(config_path: str, target: str | None, online: bool, echo: Callable = click.echo) -> int:
    """The validate command: every problem on its own line; 0 if there is none."""
    if not os.path.lexists(config_path) and config_path == "swarmhub.yaml":
        # deploy takes the defaults; validate says so: "valid" of no file misleads.
        echo(
            f"error: {config_path}: no such config file; copy swarmhub.example.yaml or run "
            "`python pipeline.py init` (without one, deploy takes every default for the "
            "local target)",
            err=True,
        )
        return 1
    try:
        cfg = load_config(config_path)
    except ConfigError as exc:
        for p in exc.problems:
            echo(f"error: {p}", err=True)
        return 1
    chosen = target or cfg.default_target()
    found = problems(cfg, chosen)
    if online and not found:
        found = online_problems(cfg, chosen)
    for p in sorted(found, key=lambda p: p.line):
        echo(f"error: {p}", err=True)
    for w in warnings(cfg):
        echo(f"warning: {w}", err=True)
    if found:
        return 1
    what = "checked online too" if online and chosen == "aws" else "offline checks"
    echo(f"{config_path}: valid for the {chosen} target ({what})")
    return 0
