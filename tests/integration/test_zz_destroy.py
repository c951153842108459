"""destroy removes everything deploy made and keeps homes (runs last: it tears the stack down)."""

from __future__ import annotations

import subprocess

import docker
import pytest

from swarmhub.swarm import labels
from tests.integration.stack import Stack, cli

pytestmark = pytest.mark.integration


def test_destroy_removes_everything_but_homes(stack: Stack):
    user = "keeper"
    stack.ensure_user(user)
    stack.start(user)
    token = stack.user_token(user)
    stack.put_text(user, token, "thesis.txt", "chapter 1")

    cli("destroy", config=stack.config)

    client = docker.from_env()
    assert client.info()["Swarm"]["LocalNodeState"] == "inactive"
    assert client.containers.list(all=True, filters={"label": labels.MANAGED}) == []
    assert client.containers.list(all=True, filters={"label": labels.USER_SERVER}) == []
    assert client.networks.list(names=["swarmhub"]) == []
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "swarmhub-" not in netns
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert "swarmhub0" not in links and "shv-" not in links
    assert not (stack.state_dir / "nodes" / "w1").exists()
    # The student's work is still there.
    assert (stack.homes_dir / user / "thesis.txt").read_text() == "chapter 1"
