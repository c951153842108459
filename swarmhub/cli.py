"""The command line: `python pipeline.py bake|deploy|status|destroy|prune|simulate`.

Thin on purpose: parse options, load the config, hand over to the target's
module. Heavy modules are imported inside the commands so `--help` is fast.
Only SwarmhubError is caught: it becomes one line on stderr and exit 1.
"""

from __future__ import annotations

import functools
import sys

import click

from swarmhub.errors import SwarmhubError


def _load(config_path: str, target: str | None):
    from swarmhub.config import load_config

    # Without a config file the defaults are the local target, as for a first try;
    # a path given explicitly must exist.
    cfg = load_config(config_path, missing_ok=config_path == "swarmhub.yaml")
    chosen = target or cfg.default_target()
    if chosen == "aws" and cfg.aws is None:
        raise SwarmhubError(f"{config_path}: --target aws needs an 'aws' section (region, ...)")
    return cfg, chosen


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
            click.echo(f"error: {exc}", err=True)
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
    if target == "local":
        from swarmhub.local import images

        if only in ("worker", "chef-server"):
            raise SwarmhubError(f"--only {only} is an AMI: use --target aws")
        images.bake(cfg, only=only, force=force)
    else:
        from swarmhub.aws import bake as aws_bake

        if only in ("hub", "notebook"):
            raise SwarmhubError(f"--only {only} is a container image: use --target local")
        aws_bake.bake(cfg, only=only, force=force)


@main.command()
@_common
@click.option("--plan", "plan_only", is_flag=True, help="Show what would change, change nothing.")
def deploy(cfg, target, plan_only):
    """Start the hub, the swarm and the autoscaler (idempotent)."""
    if target == "local":
        from swarmhub.local import deploy as local_deploy

        local_deploy.deploy(cfg, plan_only=plan_only)
    else:
        from swarmhub.aws import deploy as aws_deploy

        aws_deploy.deploy(cfg, plan_only=plan_only)


@main.command()
@_common
def status(cfg, target):
    """Hub URL and health, nodes, users and their servers."""
    if target == "local":
        from swarmhub.local import deploy as local_deploy

        local_deploy.status(cfg)
    else:
        from swarmhub.aws import deploy as aws_deploy

        aws_deploy.status(cfg)


@main.command()
@_common
@click.option("--purge", is_flag=True, help="Also delete users' homes and the hub's state.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def destroy(cfg, target, purge, yes):
    """Remove everything deploy made; homes stay unless --purge."""
    if purge and not yes:
        click.confirm("Delete every user's home and the hub database?", abort=True)
    if target == "local":
        from swarmhub.local import deploy as local_deploy

        local_deploy.destroy(cfg, purge=purge)
    else:
        from swarmhub.aws import deploy as aws_deploy

        aws_deploy.destroy(cfg, purge=purge)


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
    help="A course file: its week, or with --replay the node, price and policies.",
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
    sim.main(cfg, course_path, target=target, replay_path=replay_path, seed=seed)


if __name__ == "__main__":
    main()
