"""The lifecycle handler service: `python -m swarmhub.lifecycle`.

Runs on a swarm manager (it drains and removes nodes through the manager's
engine): as a hub-managed service like the autoscaler, or as its own systemd
unit. Every option can come from the environment, so the service definition
carries no command line. AWS credentials and region come from the usual boto3
chain (instance profile, AWS_REGION).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

import click

from swarmhub.config.lifecycle import LifecycleConfig
from swarmhub.errors import SwarmhubError


def _config(path: str | None) -> LifecycleConfig:
    if path is None:
        return LifecycleConfig()
    from swarmhub.config import load_config

    section = getattr(load_config(path), "lifecycle", None)
    if section is None:  # until the root model carries the section
        raise SwarmhubError(f"{path}: the config model has no `lifecycle` section")
    return section


@click.command()
@click.option(
    "--queue-url",
    required=True,
    envvar="SWARMHUB_LIFECYCLE_QUEUE_URL",
    help="SQS queue the lifecycle hooks notify.",
)
@click.option(
    "--asg",
    "asg_name",
    required=True,
    envvar="SWARMHUB_LIFECYCLE_ASG",
    help="The worker Auto Scaling group; other groups' events are dropped.",
)
@click.option(
    "--config",
    "config_path",
    envvar="SWARMHUB_CONFIG",
    default=None,
    help="swarmhub.yaml; its `lifecycle` section sets the timing.",
)
@click.option(
    "--notebook-image",
    envvar="SWARMHUB_LIFECYCLE_NOTEBOOK_IMAGE",
    default=None,
    help="A new node must be able to start this image without a pull.",
)
@click.option(
    "--ami-id",
    envvar="SWARMHUB_LIFECYCLE_AMI_ID",
    default=None,
    help="The AMI the notebook image was baked into (the manager's); nodes of "
    "another AMI are admitted without the image probe.",
)
@click.option(
    "--chef-url",
    envvar="SWARMHUB_LIFECYCLE_CHEF_URL",
    default=None,
    help="Chef/Cinc Server URL (without /organizations/...).",
)
@click.option(
    "--chef-client",
    envvar="SWARMHUB_LIFECYCLE_CHEF_CLIENT",
    default=None,
    help="API client name the handler signs as.",
)
@click.option(
    "--chef-key",
    envvar="SWARMHUB_LIFECYCLE_CHEF_KEY",
    default=None,
    type=click.Path(dir_okay=False),
    help="That client's private key (PEM file).",
)
@click.option("--once", is_flag=True, help="Reconcile, handle one batch of messages, exit.")
@click.option("-v", "--verbose", is_flag=True)
def main(
    queue_url: str,
    asg_name: str,
    config_path: str | None,
    notebook_image: str | None,
    ami_id: str | None,
    chef_url: str | None,
    chef_client: str | None,
    chef_key: str | None,
    once: bool,
    verbose: bool,
) -> None:
    """Drain, remove and deregister terminating workers; admit launching ones."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        handler, stop = build(
            _config(config_path),
            queue_url,
            asg_name,
            notebook_image,
            chef_url,
            chef_client,
            chef_key,
            ami_id=ami_id,
        )
        if once:
            handler.reconcile()
            handler.process_once()
            return
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        handler.serve(stop)
    except SwarmhubError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


def build(
    config, queue_url, asg_name, notebook_image, chef_url, chef_client, chef_key, *, ami_id=None
):
    """The handler wired to the real swarm, AWS and Chef Server."""
    import boto3
    import docker

    from swarmhub.lifecycle.aws import AutoScaling, Ec2Instances, SqsQueue
    from swarmhub.lifecycle.chef import ChefClient, load_key
    from swarmhub.lifecycle.handler import Handler, interruptible_sleep
    from swarmhub.lifecycle.swarm import DockerSwarm

    stop = threading.Event()
    sleep = interruptible_sleep(stop)
    chef = None
    if config.chef_enrollment:
        if not (chef_url and chef_client and chef_key):
            raise SwarmhubError(
                "lifecycle.chef_enrollment is on but --chef-url, --chef-client or --chef-key "
                "is missing"
            )
        chef = ChefClient(chef_url, chef_client, load_key(chef_key), org=config.chef_org)
    try:
        engine = docker.from_env()
        engine.ping()
    except docker.errors.DockerException as exc:
        raise SwarmhubError(f"cannot reach the Docker engine: {exc}") from None
    swarm = DockerSwarm(engine, sleep=sleep)
    if notebook_image:
        notebook_image = swarm.image_id(notebook_image)  # fail now, not at the first launch
    handler = Handler(
        config=config,
        asg_name=asg_name,
        queue=SqsQueue(boto3.client("sqs"), queue_url),
        asg=AutoScaling(boto3.client("autoscaling")),
        swarm=swarm,
        instances=Ec2Instances(boto3.client("ec2")),
        chef=chef,
        notebook_image=notebook_image,
        ami_id=ami_id,
        sleep=sleep,
    )
    return handler, stop


if __name__ == "__main__":
    main()
