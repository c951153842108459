"""The command line: `python pipeline.py bake|render|deploy|status|destroy|prune|simulate|...`.

Thin on purpose: parse options, load the config, pick the target once
(swarmhub.targets) and call its verb. Heavy modules are imported inside the
targets so `--help` is fast. Only SwarmhubError is caught: it becomes one line
on stderr and exit 1.
"""

from __future__ import annotations

import functools
import os
import sys

import click

from swarmhub.errors import SwarmhubError


def _target(cfg, name: str):
    from swarmhub import targets

    return targets.get(cfg, name)


def _load(config_path: str, target: str | None):
    from swarmhub.config import load_config

    # Without a config file the defaults are the local target, as for a first try;
    # a path given explicitly must exist.
    cfg = load_config(config_path, missing_ok=config_path == "swarmhub.yaml")
    chosen = target or cfg.default_target()
    if chosen == "aws" and cfg.aws is None:
        raise SwarmhubError(f"{config_path}: --target aws needs an 'aws' section (region, ...)")
    return cfg, chosen


def _validated(cfg, target: str, command: str) -> None:
    # Every check the command would meet later, before it touches anything.
    from swarmhub import validate

    validate.require(cfg, target, command)


def _os_line(exc: OSError) -> str:
    where = f"{exc.filename}: "
    what = (exc.strerror or str(exc)).lower()
    return f"{where}{what}; check the path and its permissions"


def _why_not(path, exc: OSError) -> str:
    """Why a directory cannot be made: a file in the way, or what the system said."""
    for part in [path, *path.parents]:
        if part.exists() and not part.is_dir():
            return f"{part} is not a directory"
    return (exc.strerror or str(exc)).lower()


def _aws_errors(url: str | None):
    """AWS's refusals of an s3:// store as one line naming the store (archive, restore)."""
    import contextlib

    @contextlib.contextmanager
    def guard():
        if not (url or "").startswith("s3://"):
            yield
            return
        import botocore.exceptions as bex

        try:
            yield
        except bex.NoCredentialsError:
            raise SwarmhubError(
                f"{url}: no AWS credentials; set AWS_PROFILE or run `aws configure`"
            ) from None
        except bex.ClientError as exc:
            error = exc.response.get("Error", {})
            raise SwarmhubError(
                f"{url}: AWS refused: {error.get('Message') or error.get('Code')}"
            ) from None
        except bex.BotoCoreError as exc:
            raise SwarmhubError(f"{url}: AWS cannot be reached: {exc}") from None

    return guard()


def _read_files(*paths: str | None):
    """Files the operator named for a verb that reads them itself: a file that is not
    UTF-8, or a reader's error of several lines, is still one line."""
    import contextlib

    from swarmhub.config import ConfigError

    @contextlib.contextmanager
    def guard():
        try:
            yield
        except UnicodeDecodeError:
            named = next((p for p in paths if p), "a file")
            raise SwarmhubError(f"{named}: is not UTF-8; save it as UTF-8") from None
        except ConfigError:
            raise  # a config's mistakes: a line each, by design
        except SwarmhubError as exc:
            if "\n" not in str(exc):
                raise
            raise SwarmhubError(" ".join(str(exc).split())) from None

    return guard()


def _common(func):
    @click.option(
        "--config",
        "config_path",
        default="swarmhub.yaml",
        show_default=True,
        help="The config file (see swarmhub.example.yaml).",
    )
    @click.option(
        "--target",
        type=click.Choice(["local", "aws"]),
        default=None,
        help="Where to act; default: aws if the config has an aws section, else local.",
    )
    @functools.wraps(func)
    def wrapper(config_path, target, **kwargs):
        try:
            cfg, chosen = _load(config_path, target)
            return func(cfg, chosen, **kwargs)
        except SwarmhubError as exc:
            # A config's mistakes are one line each, all of them.
            for line in str(exc).splitlines():
                click.echo(f"error: {line}", err=True)
            sys.exit(1)
        except OSError as exc:
            # A path the operator named that cannot be read or written: still one line.
            # Others (a socket, requests' errors are OSErrors too) are bugs: traceback.
            if exc.filename is None:
                raise
            click.echo(f"error: {_os_line(exc)}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="swarmhub")
def main() -> None:
    """swarmhub: an autoscaling JupyterHub on Docker Swarm, without Kubernetes."""


@main.command()
@_common
@click.option("--only", type=click.Choice(["hub", "notebook", "worker", "chef-server"]))
@click.option("--force", is_flag=True, help="Build even if an image with these inputs exists.")
def bake(cfg, target, only, force):
    """Build the images: local docker images, or AMIs on AWS. Skips what is unchanged."""
    _validated(cfg, target, "bake")
    _target(cfg, target).bake(only=only, force=force)


@main.command()
@_common
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to write the files (default: .work/<target>/rendered).",
)
def render(cfg, target, out):
    """Write every file deploy would act on, for a person to read; apply nothing."""
    from pathlib import Path

    _validated(cfg, target, "render")
    where = Path(out or f".work/{target}/rendered")
    try:
        written = _target(cfg, target).render(where)
    except OSError as exc:
        raise SwarmhubError(
            f"--out {where}: cannot write there ({_why_not(where, exc)}); "
            "give a directory you can write"
        ) from None
    for path in written:
        click.echo(str(path))


@main.command()
@_common
@click.option("--plan", "plan_only", is_flag=True, help="Show what would change, change nothing.")
def deploy(cfg, target, plan_only):
    """Start the hub, the swarm and the autoscaler (idempotent)."""
    _validated(cfg, target, "plan" if plan_only else "deploy")
    chosen = _target(cfg, target)
    if plan_only:
        if target == "local" and os.geteuid() != 0:
            click.echo(
                "plan (not root): what runs now cannot be read, so these are the steps of a "
                "deploy on a machine where nothing runs yet; `sudo python pipeline.py deploy "
                "--plan` compares with what runs"
            )
        chosen.plan()
    else:
        chosen.apply()


@main.command()
@_common
@click.option("--json", "as_json", is_flag=True, help="The same, as JSON for scripts.")
def status(cfg, target, as_json):
    """Hub URL and health (healthy, slow or not answering), nodes, users and their servers."""
    _target(cfg, target).status(as_json=as_json)


@main.command()
@_common
@click.option("--purge", is_flag=True, help="Also delete users' homes and the hub's state.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def destroy(cfg, target, purge, yes):
    """Remove everything deploy made; homes stay unless --purge."""
    _validated(cfg, target, "destroy")
    if purge and not yes:
        click.confirm("Delete every user's home and the hub database?", abort=True)
    _target(cfg, target).destroy(purge=purge)


@main.command()
@_common
@click.option("--keep", type=click.IntRange(min=1), default=None, help="AMIs kept per image.")
@click.option("--dry-run", is_flag=True, help="List what would be deleted.")
def prune(cfg, target, keep, dry_run):
    """Deregister old AMIs and delete their snapshots, never one still in use."""
    if target != "aws":
        raise SwarmhubError("prune works on AMIs: use --target aws")
    from swarmhub.aws import prune as aws_prune

    aws_prune.prune(cfg, keep=keep or cfg.aws.ami.keep, dry_run=dry_run)


@main.command()
@_common
@click.option(
    "--course",
    "course_path",
    type=click.Path(dir_okay=False),
    help="A course file: its week, or with --replay the node, price and policies; "
    "with --replay a course NAME (not a file) replays only that course's servers.",
)
@click.option(
    "--replay",
    "replay_path",
    type=click.Path(dir_okay=False),
    help="A week of recorded server events (JSON lines) to replay instead of a course's.",
)
@click.option("--seed", type=int, default=None, help="Draw the course's week with this seed.")
def simulate(cfg, target, course_path, replay_path, seed):
    """Replay a course's week, or a recorded one, through the autoscaler: cost and waits."""
    from swarmhub.autoscaler import simulate as sim

    if not course_path and not replay_path:
        raise SwarmhubError("simulate needs --course FILE, or --replay EVENTS")
    with _read_files(course_path, replay_path):
        sim.main(cfg, course_path, target=target, replay_path=replay_path, seed=seed)


@main.command()
@_common
@click.option(
    "--since",
    "since_text",
    default="7d",
    show_default=True,
    help="The period: a span back from now (7d, 36h) or a UTC date.",
)
@click.option("--course", default=None, help="Only this course's row (its share of the nodes).")
@click.option(
    "--events",
    "events_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="The hub's events file (default: the local target's, in its state dir).",
)
@click.option(
    "--price-per-node-hour",
    "price",
    type=click.FloatRange(min=0),
    default=None,
    help="What a node-hour costs (the config has no price).",
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False),
    default=None,
    help="Nodes and servers over the period: out.html, or out.png with matplotlib.",
)
@click.option(
    "--export",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the period's events to FILE, for simulate --replay.",
)
def report(cfg, target, **options):
    """Per course: server-hours, node-hours, cost, spawn waits, from the hub's records."""
    from swarmhub import report as reporting

    reporting.main(cfg, target, **options)


@main.command()
@_common
@click.option("--course", required=True, help="The course whose students' homes are archived.")
@click.option(
    "--users",
    default=None,
    help="Its students, a,b,c (default: the course's roster in the config).",
)
@click.option(
    "--roster",
    type=click.Path(dir_okay=False),
    default=None,
    help="Or a roster file: a user a line, or a CSV with the user first.",
)
@click.option(
    "--to", default=None, help="A directory, or s3://bucket/prefix (default: <state_dir>-archive)."
)
@click.option("--homes", default=None, help="Where the homes are (default: local.homes_dir).")
@click.option("--keep-homes", is_flag=True, help="Archive, and leave every file in place.")
@click.option(
    "--expire-days",
    type=click.IntRange(min=0),
    default=400,
    show_default=True,
    help="S3: delete archives after this many days (0: never).",
)
def archive(cfg, target, course, **options):
    """A tar per student's home, verified by sha256 before the home is emptied."""
    from swarmhub import archive as archiving

    _archive_inputs(cfg, target, options)
    with _aws_errors(options.get("to")), _read_files(options.get("roster")):
        archiving.archive(cfg, target, course=course, **options)


def _archive_inputs(cfg, target: str, options: dict) -> None:
    """What archive would only skip over, refused before anything is read or written."""
    from swarmhub.config.hub import USERNAME, USERNAME_RULE

    for name in (options.get("users") or "").split(","):
        name = name.strip()
        if name and not USERNAME.match(name):
            lower = (
                f"; user names are lower case: {name.lower()}"
                if USERNAME.match(name.lower())
                else ""
            )
            raise SwarmhubError(f"--users {name}: not a user name ({USERNAME_RULE}){lower}")
    homes = options.get("homes")
    if homes and not os.path.isdir(homes):
        raise SwarmhubError(
            f"--homes {homes}: no such directory; give the directory the homes are in"
        )
    if not homes and target == "local" and not os.path.isdir(cfg.local.homes_dir):
        raise SwarmhubError(
            f"{cfg.local.homes_dir}: no such directory (local.homes_dir); nothing was deployed "
            "here, or give --homes DIR"
        )


@main.command()
@_common
@click.argument("user")
@click.option("--course", default=None, help="Which course's archive (if the user has several).")
@click.option(
    "--from",
    "source",
    default=None,
    help="A directory, or s3://bucket/prefix (default: <state_dir>-archive).",
)
@click.option("--homes", default=None, help="Where the homes are (default: local.homes_dir).")
@click.option("--overwrite", is_flag=True, help="Replace files that exist with other contents.")
def restore(cfg, target, user, **options):
    """Bring back a user's archived home; checks every file, never overwrites silently."""
    from swarmhub import archive as archiving

    with _aws_errors(options.get("source")):
        archiving.restore(cfg, target, user=user, **options)


@main.command(name="validate")
@click.option("--config", "config_path", default="swarmhub.yaml", show_default=True)
@click.option("--target", type=click.Choice(["local", "aws"]), default=None)
@click.option("--online", is_flag=True, help="Also check AWS credentials, region, AMIs, tools.")
def validate_command(config_path, target, online):
    """Check the config and this machine for everything bake/deploy would meet; change nothing."""
    from swarmhub import validate

    sys.exit(validate.main(config_path, target, online))


@main.command(name="init")
@click.option("--config", "config_path", default="swarmhub.yaml", show_default=True)
@click.option("--target", type=click.Choice(["local", "aws"]), default=None)
@click.option("--class-size", type=click.IntRange(1, 2000), default=None)
@click.option("--sign-in", type=click.Choice(["accounts", "github", "shared-password"]))
@click.option("--region", default=None, help="AWS region (with --target aws).")
@click.option("--github-org", default=None, help="GitHub organisation whose members sign in.")
@click.option("--admin", "admins", multiple=True, help="An admin user (repeat for more).")
@click.option("--yes", is_flag=True, help="Ask nothing: take the flags and the defaults.")
def init_command(config_path, **answers):
    """Write a commented swarmhub.yaml from a few answers; never overwrites one."""
    from swarmhub import init

    try:
        init.main(config_path, **answers)
    except SwarmhubError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:
        if exc.filename is None:
            raise
        click.echo(f"error: {_os_line(exc)}", err=True)
        sys.exit(1)


@main.group()
def users():
    """Per-user accounts of the local target: one identity per student."""


@users.command(name="add")
@click.argument("names", nargs=-1)
@click.option("--from", "roster", type=click.Path(dir_okay=False), help="A roster CSV.")
@click.option("--reset", is_flag=True, help="Give existing accounts a new password.")
@click.option("--config", "config_path", default="swarmhub.yaml", show_default=True)
def users_add(names, roster, reset, config_path):
    """Make accounts; print each new password once (only its hash is kept)."""
    from swarmhub import accounts

    accounts.cli_add(config_path, names, roster, reset)


@users.command(name="remove")
@click.argument("names", nargs=-1, required=True)
@click.option("--config", "config_path", default="swarmhub.yaml", show_default=True)
def users_remove(names, config_path):
    """Delete accounts: the user can no longer sign in (their home stays)."""
    from swarmhub import accounts

    accounts.cli_remove(config_path, names)


@users.command(name="list")
@click.option("--config", "config_path", default="swarmhub.yaml", show_default=True)
def users_list(config_path):
    """The accounts, with when each was made (never a password)."""
    from swarmhub import accounts

    accounts.cli_list(config_path)


if __name__ == "__main__":
    main()
