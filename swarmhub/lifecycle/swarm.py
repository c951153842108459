"""The swarm side of the lifecycle handler, through the Docker SDK (a manager's engine).

Finds a node by its engine label, drains it, lists the user servers still on
it, removes it, and proves a new node can start the notebook image. No CLI
output is parsed; everything is the Engine API.

How "the notebook image is present" is checked: a one-shot probe service,
pinned to the node (`node.id==<id>`), running `true` from the notebook image
named by its image id (sha256:...), restart condition none. A swarm worker does
not pull an image named by id, so the task completes only if the image is in
the node's own store and the node can really start containers from it; a
missing image fails the task at once. The probe is removed afterwards. This
needs nothing from the node's boot path beyond joining the swarm.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import docker
from docker.errors import ImageNotFound, NotFound
from docker.types import RestartPolicy, ServiceMode

from swarmhub.errors import SwarmhubError
from swarmhub.lifecycle.interfaces import SwarmNode
from swarmhub.swarm import labels
from swarmhub.swarm.nodes import set_availability, user_servers_on

log = logging.getLogger("swarmhub.lifecycle")

_PROBE_FAILED = frozenset({"failed", "rejected", "shutdown", "orphaned", "remove"})


def to_node(attrs: dict) -> SwarmNode:
    """Engine API node object -> SwarmNode."""
    description = attrs.get("Description", {})
    engine_labels = description.get("Engine", {}).get("Labels") or {}
    spec = attrs.get("Spec", {})
    return SwarmNode(
        id=attrs["ID"],
        hostname=description.get("Hostname", ""),
        instance_id=engine_labels.get(labels.INSTANCE_ID),
        state=attrs.get("Status", {}).get("State", "unknown"),
        availability=spec.get("Availability", "active"),
        role=spec.get("Role", "worker"),
    )


class DockerSwarm:
    """Implements the handler's Swarm protocol against a manager's engine."""

    def __init__(
        self,
        client: docker.DockerClient,
        *,
        probe_timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._docker = client
        self._probe_timeout = probe_timeout
        self._sleep = sleep
        self._clock = clock

    def nodes(self) -> list[SwarmNode]:
        return [to_node(n) for n in self._docker.api.nodes()]

    def find_node(self, instance_id: str, hostname: str | None = None) -> SwarmNode | None:
        nodes = self.nodes()
        for node in nodes:
            if node.instance_id == instance_id:
                return node
        if hostname:
            # Only unlabelled nodes: a labelled node with another id is another
            # instance, even if EC2 reused the address (and so the host name).
            for node in nodes:
                if node.instance_id is None and node.hostname in (hostname, hostname.split(".")[0]):
                    return node
        return None

    def drain(self, node_id: str) -> None:
        try:
            set_availability(self._docker.api, node_id, "drain")
        except NotFound:
            return  # already gone

    def user_servers(self, node_id: str) -> list[str]:
        return user_servers_on(self._docker.api, node_id)

    def remove(self, node_id: str) -> None:
        try:
            self._docker.api.remove_node(node_id, force=True)
        except NotFound:
            pass

    # -- image probe -------------------------------------------------------

    def image_id(self, image: str) -> str:
        """The id (sha256:...) of `image` in the manager's store: what the probe runs."""
        if image.startswith("sha256:"):
            return image
        try:
            return self._docker.images.get(image).id
        except ImageNotFound:
            raise SwarmhubError(
                f"the notebook image {image} is not in this manager's image store",
                hint="the manager needs it to name it by id to the workers",
            ) from None

    def image_ready(self, node_id: str, image: str) -> bool:
        name = f"swarmhub-probe-{node_id[:12]}"
        self._remove_service(name)  # a probe left by a handler killed mid-check
        service = self._docker.services.create(
            self.image_id(image),
            command=["true"],
            name=name,
            labels={labels.PROBE: "true"},
            constraints=[f"node.id=={node_id}"],
            restart_policy=RestartPolicy(condition="none"),
            mode=ServiceMode("replicated", replicas=1),
        )
        try:
            return self._wait_probe(service.id, node_id)
        finally:
            self._remove_service(name)

    def _wait_probe(self, service_id: str, node_id: str) -> bool:
        deadline = self._clock() + self._probe_timeout
        while self._clock() < deadline:
            for task in self._docker.api.tasks(filters={"service": service_id}):
                status = task.get("Status", {})
                if status.get("State") == "complete":
                    return True
                if status.get("State") in _PROBE_FAILED:
                    log.warning(
                        "node %s cannot start the notebook image: %s",
                        node_id,
                        status.get("Err") or status.get("State"),
                    )
                    return False
            self._sleep(1)
        log.warning("node %s: image probe did not finish in %ss", node_id, self._probe_timeout)
        return False

    def _remove_service(self, name: str) -> None:
        try:
            self._docker.api.remove_service(name)
        except NotFound:
            pass
