"""A real local stack for the integration tests: bake, deploy, and destroy at the end.

One stack per test session (bake builds nothing when the images exist). It
uses its own state directory and port, and removes everything it made,
homes included, when the session ends.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import require_tool
from tests.integration.stack import Stack, cli

STATE_DIR = Path("/var/lib/swarmhub-test")
PORT = 18000


def stack_config(tmp: Path, **overrides) -> Path:
    config = {
        "hub": {"port": PORT},
        "servers": {"mem_reservation": "256M", "mem_limit": "1G", "cpu_reservation": 0.1},
        "autoscaler": {"enabled": False},
        "local": {
            "state_dir": str(STATE_DIR),
            "homes_dir": str(STATE_DIR / "homes"),
            "workers": 1,
        },
    }
    for key, value in overrides.items():
        config.setdefault(key, {}).update(value)
    path = tmp / "swarmhub.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Stack:
    if os.geteuid() != 0:
        pytest.skip("the local target needs root")
    require_tool("dockerd")
    require_tool("debootstrap")
    config = stack_config(tmp_path_factory.mktemp("stack"))
    cli("bake", config=config)
    cli("deploy", config=config)
    yield Stack(config=config, state_dir=STATE_DIR, homes_dir=STATE_DIR / "homes", port=PORT)
    cli("destroy", "--purge", "--yes", config=config, check=False)


@dataclass
class Worker:
    name: str
    instance_id: str
    docker_host: str
    swarm_node_id: str
    node: object


@pytest.fixture
def local_worker(stack: Stack):
    """A worker node of its own for one test: started, joined, removed afterwards."""
    from swarmhub.config import load_config
    from swarmhub.local import images, nodes

    cfg = load_config(stack.config)
    node = nodes.start(cfg, [images.built_images(cfg)["notebook"]])
    try:
        yield Worker(
            name=node.name,
            instance_id=node.instance_id,
            docker_host=node.docker_host,
            swarm_node_id=nodes.swarm_node_id(node),
            node=node,
        )
    finally:
        nodes.remove(cfg, node, drain_timeout=10)
