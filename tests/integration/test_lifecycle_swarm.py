"""swarmhub.lifecycle.swarm against a real swarm: a manager (the default engine)
and one local worker node from the `local_worker` fixture (tests/integration/
conftest.py), which has `.name`, `.instance_id` (its swarmhub.instance-id
engine label), `.docker_host` and `.swarm_node_id`.

The last test removes the worker from the swarm: the fixture must give each
test a worker of its own, or rejoin it.
"""

from __future__ import annotations

import docker
import pytest
from docker.types import RestartPolicy

from swarmhub.lifecycle.swarm import DockerSwarm
from swarmhub.swarm import labels
from tests.integration.stack import wait_for

pytestmark = pytest.mark.integration

MISSING_IMAGE = "sha256:" + "0" * 64


@pytest.fixture
def manager():
    client = docker.from_env()
    yield client
    for service in client.services.list(filters={"label": labels.USER_SERVER}):
        service.remove()
    client.close()


@pytest.fixture
def swarm(manager):
    return DockerSwarm(manager, probe_timeout=60)


def worker_image(local_worker) -> str:
    """An image already in the worker's own store, by id (so nothing is pulled)."""
    worker = docker.DockerClient(base_url=local_worker.docker_host)
    try:
        images = [i for i in worker.images.list() if i.tags]
    finally:
        worker.close()
    assert images, "the local worker has no images loaded"
    return images[0].id


def test_finds_the_node_by_its_instance_label(swarm, local_worker):
    node = swarm.find_node(local_worker.instance_id)
    assert node is not None
    assert node.id == local_worker.swarm_node_id
    assert (node.role, node.instance_id, node.ready) == ("worker", local_worker.instance_id, True)
    assert swarm.find_node("i-0000000000000000f") is None


def test_drain_moves_user_servers_off_the_node(swarm, manager, local_worker):
    node_id = local_worker.swarm_node_id
    manager.services.create(
        worker_image(local_worker),
        command=["sleep", "600"],
        name="jupyter-alice-lifecycle-test",
        labels={labels.USER_SERVER: "true", labels.USER: "alice"},
        constraints=[f"node.id=={node_id}"],
        restart_policy=RestartPolicy(condition="none"),
    )
    wait_for(lambda: swarm.user_servers(node_id) == ["alice"], 60, "alice's server on the node")

    swarm.drain(node_id)
    swarm.drain(node_id)  # twice is fine

    assert swarm.find_node(local_worker.instance_id).availability == "drain"
    wait_for(lambda: swarm.user_servers(node_id) == [], 60, "the node to host no user server")


def test_image_probe(swarm, local_worker):
    node_id = local_worker.swarm_node_id
    assert swarm.image_ready(node_id, worker_image(local_worker)) is True
    assert swarm.image_ready(node_id, MISSING_IMAGE) is False


def test_remove_forces_the_node_out(swarm, local_worker):
    swarm.remove(local_worker.swarm_node_id)
    swarm.remove(local_worker.swarm_node_id)  # already gone is fine
    assert swarm.find_node(local_worker.instance_id) is None
