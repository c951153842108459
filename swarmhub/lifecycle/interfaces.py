"""What the lifecycle handler needs from the world, as small protocols.

The handler (handler.py) only talks to these; swarm.py, aws.py and chef.py are
the real implementations, and the unit tests pass in-memory fakes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from swarmhub.lifecycle.messages import LifecycleAction


@dataclass(frozen=True)
class Received:
    """One queue message as received: its receipt handle extends or deletes it."""

    message_id: str
    receipt: str
    body: str
    receive_count: int = 1


@dataclass(frozen=True)
class SwarmNode:
    """A swarm node as the handler sees it."""

    id: str
    hostname: str
    instance_id: str | None  # the engine label swarmhub.instance-id, if set
    state: str  # Status.State: ready, down, unknown, disconnected
    availability: str  # Spec.Availability: active, pause, drain
    role: str  # worker or manager

    @property
    def ready(self) -> bool:
        return self.state == "ready" and self.availability == "active"


class Swarm(Protocol):
    def nodes(self) -> list[SwarmNode]: ...

    def find_node(self, instance_id: str, hostname: str | None = None) -> SwarmNode | None:
        """The node labelled with `instance_id`; else an unlabelled node named `hostname`."""

    def drain(self, node_id: str) -> None:
        """Availability=drain; nothing if already drained or gone."""

    def user_servers(self, node_id: str) -> list[str]:
        """Users whose server (a service labelled swarmhub.user-server=true) still has a
        live task on the node."""

    def remove(self, node_id: str) -> None:
        """`docker node rm --force`; nothing if already gone."""

    def image_ready(self, node_id: str, image: str) -> bool:
        """Whether the node can start `image` from its own store, without a pull."""


class Queue(Protocol):
    def receive(self, *, wait_seconds: int, visibility: int, limit: int = 10) -> list[Received]: ...

    def extend(self, receipt: str, seconds: int) -> None: ...

    def delete(self, receipt: str) -> None: ...


class Asg(Protocol):
    def complete(self, action: LifecycleAction, result: str) -> bool: ...

    def heartbeat(self, action: LifecycleAction) -> bool: ...


class Instances(Protocol):
    def gone(self, ids: Iterable[str]) -> set[str]: ...

    def hostname(self, instance_id: str) -> str | None: ...

    def image_id(self, instance_id: str) -> str | None: ...


class Chef(Protocol):
    def list_nodes(self) -> list[str]: ...

    def delete_node(self, name: str) -> bool: ...

    def delete_client(self, name: str) -> bool: ...
