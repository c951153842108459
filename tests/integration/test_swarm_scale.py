"""swarm.state against a real swarm: the filters a poll relies on are the engine's.

tests/unit/test_swarm_state.py counts what a poll reads against a fake that
filters as swarmkit does; this checks swarmkit does: a task list filtered by
`label` matches the labels of the task's *service* (the spawner labels the
service, not the container), so other services' tasks never come back.
"""

from __future__ import annotations

import docker
import pytest
from docker.types import RestartPolicy

from swarmhub.swarm import labels
from swarmhub.swarm.nodes import user_servers_on
from swarmhub.swarm.state import live_user_tasks, snapshot
from tests.integration.stack import wait_for
from tests.integration.test_lifecycle_swarm import worker_image

pytestmark = pytest.mark.integration

PREFIX = "swarmscale-test-"


@pytest.fixture
def manager():
    client = docker.from_env()
    yield client
    for service in client.services.list(filters={"name": PREFIX}):
        service.remove()
    client.close()


def test_a_poll_gets_user_server_tasks_only_from_the_engine(manager, local_worker):
    node_id = local_worker.swarm_node_id
    image = worker_image(local_worker)

    def create(name: str, service_labels: dict) -> None:
        manager.services.create(
            image,
            command=["sleep", "600"],
            name=PREFIX + name,
            labels=service_labels,
            constraints=[f"node.id=={node_id}"],
            restart_policy=RestartPolicy(condition="none"),
        )

    for user in ("ann", "bo"):
        create(user, {labels.USER_SERVER: "true", labels.USER: user})
    for other in ("web", "db"):
        create(other, {"team": "other"})
    api = manager.api

    wait_for(lambda: user_servers_on(api, node_id) == ["ann", "bo"], 60, "both servers live")
    tasks = live_user_tasks(api)
    names = {api.inspect_service(t["ServiceID"])["Spec"]["Name"] for t in tasks}
    assert names == {PREFIX + "ann", PREFIX + "bo"}
    workers, _ = snapshot(api)
    (node,) = [w for w in workers if w.id == node_id]
    assert sorted(node.user_servers) == ["ann", "bo"]
