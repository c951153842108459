"""`python pipeline.py init`: a commented swarmhub.yaml from a few answers.

Like `nebari init`: the target, the class size and the sign-in decide the few
values that differ; everything else is written as a comment showing its
default, so the file explains itself. The text is checked by the same loader
`validate` uses before it is written, and an existing file is never replaced.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import click

from swarmhub.config.hub import _SLUG, USERNAME, USERNAME_RULE
from swarmhub.errors import SwarmhubError

# A server's default reservation is 0.25 CPU and 1G: a 4-CPU / 16 GB worker
# (m6i.xlarge) holds about 12 of them once the system has its share.
SERVERS_PER_AWS_NODE = 12


def render(
    *,
    target: str,
    class_size: int,
    sign_in: str,
    region: str | None = None,
    github_org: str | None = None,
    admins: tuple[str, ...] = (),
) -> str:
    """The file's text for these answers."""
    admins = admins or (("admin",) if sign_in != "github" else ())
    nodes = max(2, math.ceil(class_size * 1.1 / SERVERS_PER_AWS_NODE)) if target == "aws" else 4
    lines = [
        "# swarmhub.yaml, written by `python pipeline.py init`. Every key is optional;",
        "# unknown keys are an error; `python pipeline.py validate` checks it all.",
        "# Sizes take a unit (K/M/G/T). Quote times: '14:00'. Secrets never go here.",
        "# Every key: docs/config-reference.md",
        "",
        "hub:",
        "  port: 8000",
        '  https: "off"               # or "self-signed" (local)',
        "  auth:",
    ]
    if sign_in == "accounts":
        lines += [
            "    kind: accounts           # a password per student:",
            "                             #   python pipeline.py users add --from roster.csv",
            f"    admin_users: [{', '.join(admins)}]   # give them accounts too (users add)",
        ]
    elif sign_in == "shared-password":
        lines += [
            "    # One class password: anyone who has it can sign in as anyone. A workshop only.",
            "    kind: shared-password",
            f"    admin_users: [{', '.join(admins)}]",
        ]
    else:
        lines += [
            "    kind: github             # the client secret: SWARMHUB_GITHUB_CLIENT_SECRET",
            "                             # (local) or SSM Parameter Store (AWS)",
            f"    admin_users: [{', '.join(admins)}]   # GitHub logins",
            "    github:",
            "      client_id: CHANGE-ME   # your GitHub OAuth app's client id",
            f"      allowed_organizations: [{github_org or 'CHANGE-ME'}]",
            "      # allowed_teams: [my-org:tas]",
            "      # allowed_users: [a-login]",
        ]
    lines += [
        "",
        f"servers:                     # each student's server; a class of {class_size}",
        "  mem_reservation: 1G        # what the swarm sets aside: how full a node is",
        "  mem_limit: 2G              # the most one student can use",
        "  cpu_reservation: 0.25",
        "  cpu_limit: 1.0",
        "  # start_timeout: 300       # seconds; at least node_boot_seconds + 60",
        "  # idle_timeout: 3600       # seconds without activity before a server stops",
        "",
        "autoscaler:",
        "  # min_nodes: nodes kept when nobody works; 1 by default, 0 once the",
        "  # config knows when the class meets (courses: or schedule: below)",
        f"  max_nodes: {nodes}",
        "  # headroom_slots: 2        # free servers kept warm",
        "  # schedule:                # known busy hours: nodes ready before the lab starts",
        "  #   - days: [tue, thu]",
        "  #     start: '14:00'",
        "  #     end: '17:00'",
        "  #     timezone: Europe/Berlin",
        f"  #     min_nodes: {max(1, nodes // 2)}",
        "",
    ]
    if target == "local":
        lines += [
            "local:                       # this machine",
            "  state_dir: /var/lib/swarmhub          # swarmhub's own directory",
            "  homes_dir: /var/lib/swarmhub/homes    # kept by destroy; --purge deletes it",
            "  workers: 1",
        ]
    else:
        lines += [
            "aws:",
            f"  region: {region or 'eu-central-1'}",
            "  fleet:",
            "    min_workers: 1",
            f"    max_workers: {nodes}",
            "    # domain: hub.example.org   # HTTPS with a Let's Encrypt certificate",
            "    # backend: {bucket: my-terraform-state}",
        ]
    return "\n".join(lines) + "\n"


def main(
    config_path: str,
    *,
    target: str | None,
    class_size: int | None,
    sign_in: str | None,
    region: str | None,
    github_org: str | None,
    admins: tuple[str, ...],
    yes: bool,
) -> Path:
    path = Path(config_path)
    if path.exists() or path.is_symlink():
        raise SwarmhubError(
            f"{path}: exists already; init never replaces a config (give --config NEW.yaml)"
        )
    if not path.parent.is_dir():
        raise SwarmhubError(
            f"{path}: the directory {path.parent} does not exist; create it first "
            "or give --config a path in an existing directory"
        )
    admins = _admins(admins)
    if github_org is not None and not _SLUG.match(github_org):
        raise SwarmhubError(
            f"--github-org {github_org}: not an organisation name (letters, digits, '.', '_' "
            "and '-', as in its GitHub URL)"
        )
    ask = not yes
    if target is None:
        target = (
            click.prompt("Target", type=click.Choice(["local", "aws"]), default="local")
            if ask
            else "local"
        )
    if class_size is None:
        class_size = (
            click.prompt("Class size", type=click.IntRange(1, 2000), default=60) if ask else 60
        )
    if sign_in is None:
        default = "github" if target == "aws" else "accounts"
        sign_in = (
            click.prompt(
                "Sign-in",
                type=click.Choice(["accounts", "github", "shared-password"]),
                default=default,
            )
            if ask
            else default
        )
    if sign_in == "github":
        if github_org is None and ask:
            github_org = click.prompt("GitHub organisation whose members sign in")
        if not admins and ask:
            admins = _admins(
                click.prompt("Admin GitHub logins (comma-separated)").replace(" ", "").split(",")
            )
        if not admins:
            raise SwarmhubError("GitHub sign-in needs its admins named: give --admin LOGIN")
    if region is not None and target == "local":
        raise SwarmhubError(
            f"--region {region}: the local target has no region; "
            "add --target aws, or leave --region out"
        )
    if target == "aws" and region is None and ask:
        region = click.prompt("AWS region", default="eu-central-1")
    if region is not None:
        from swarmhub.config.regions import region_problem

        problem = region_problem(region)
        if problem:
            raise SwarmhubError(f"--region {region}: {problem}")
    text = render(
        target=target,
        class_size=class_size,
        sign_in=sign_in,
        region=region,
        github_org=github_org,
        admins=admins,
    )
    _check(text, path, sign_in)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    click.echo(f"wrote {path}; next: python pipeline.py validate --config {path}")
    if sign_in == "github":
        click.echo("  then set hub.auth.github.client_id (it says CHANGE-ME)")
    if sign_in == "accounts":
        click.echo("  then: python pipeline.py users add --from roster.csv")
    return path


def _admins(given) -> tuple[str, ...]:
    """Each admin once, lower-cased as the hub compares them; a name that is not
    a user name is refused here, naming the flag, not a line of a file never written."""
    out: list[str] = []
    for name in given:
        if not name:
            continue
        if not USERNAME.match(name.lower()):
            example = name.lstrip("@").lower()
            hint = f"; write the login without '@', e.g. {example}" if name.startswith("@") else ""
            raise SwarmhubError(f"--admin {name}: not a user name ({USERNAME_RULE}){hint}")
        if name.lower() not in out:
            out.append(name.lower())
    return tuple(out)


def _check(text: str, path: Path, sign_in: str) -> None:
    """The answers must make a valid file (a placeholder client id aside)."""
    from swarmhub.config import check_data
    from swarmhub.config.source import ReadError, parse

    # The placeholder is refused by validate, on purpose, until it is replaced.
    try:
        data, src = parse(text.replace("CHANGE-ME", "placeholder"), str(path))
    except ReadError as exc:
        # The answers were checked one by one; this is a bug, said in one line.
        raise SwarmhubError(f"the answers do not make a valid file ({exc.message})") from None
    check_data(data, str(path), src)
