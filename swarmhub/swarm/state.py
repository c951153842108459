"""What the swarm holds right now: worker nodes and the reservations on them.

Read through the Docker API of a manager. Used by the spawner to pack servers
and by the autoscaler to measure supply.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

from swarmhub.swarm import labels

# Task states in which a container exists or is about to (swarmkit's order:
# anything before "complete" is still alive). The one set every part uses.
LIVE_TASK_STATES = frozenset({
    "new", "allocated", "pending", "assigned", "accepted", "preparing", "ready", "starting",
    "running",
})  # fmt: skip
# Live, but not running yet.
STARTING_TASK_STATES = LIVE_TASK_STATES - {"running"}

# The tasks of user servers that are meant to run. Both filters are applied by
# swarmkit before its gRPC answer (a task's `label` filter matches its
# service's labels), so the hub's own services, other stacks on the swarm and
# each service's task history never cross the 4 MiB message limit with ours.
USER_TASKS = {"label": f"{labels.USER_SERVER}=true", "desired-state": "running"}
# Beyond this many unknown services, one list by label beats an `id` filter
# whose query string grows with them (a cold start after an autoscaler restart).
_ID_FILTER_MAX = 50
# Per API client: service id -> the user it serves. A user-server service is
# labelled when the spawner creates it and never relabelled, and swarm never
# reuses an id, so an answer holds for the service's life: each poll reads the
# services created since the last one, not every service again.
_owners: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass
class NodeUsage:
    id: str
    hostname: str
    instance_id: str
    role: str
    state: str  # ready | down | unknown | disconnected
    availability: str  # active | pause | drain
    mem_total: int
    cpu_total: float
    mem_reserved: int = 0
    cpu_reserved: float = 0.0
    user_servers: list[str] = field(default_factory=list)
    created_at: str = ""

    @property
    def ready(self) -> bool:
        return self.state == "ready" and self.availability == "active"

    @property
    def draining(self) -> bool:
        return self.availability != "active"

    @property
    def mem_free(self) -> int:
        return self.mem_total - self.mem_reserved

    @property
    def cpu_free(self) -> float:
        return self.cpu_total - self.cpu_reserved


@dataclass
class PendingServer:
    user: str
    mem: int
    cpu: float


def instance_id_of(node: dict) -> str:
    """The node's instance (EC2 instance id, local node id) from its engine label."""
    engine = node.get("Description", {}).get("Engine", {})
    return (engine.get("Labels") or {}).get(labels.INSTANCE_ID, "")


def owners(api, service_ids) -> dict[str, str]:
    """The user of each user-server service in `service_ids` (its `swarmhub.user`
    label, else its name); a service that is gone or not a user server is left out.

    Only services this client has not seen before are read from the API.
    """
    known = _owners.setdefault(api, {})
    missing = set(service_ids) - known.keys()
    if missing:
        filters = {"label": f"{labels.USER_SERVER}=true"}
        if len(missing) <= _ID_FILTER_MAX:
            filters["id"] = sorted(missing)
        for s in api.services(filters=filters):
            spec = s["Spec"]
            known[s["ID"]] = (spec.get("Labels") or {}).get(labels.USER) or spec["Name"]
    return {i: known[i] for i in service_ids if i in known}


def forget_gone(api, live_ids) -> None:
    """Drop what `owners` remembers of services without a live task any more."""
    known = _owners.get(api)
    if known:
        for gone in known.keys() - set(live_ids):
            known.pop(gone, None)


def live_user_tasks(api, node_id: str | None = None) -> list[dict]:
    """User-server tasks in a live state, on one node or the whole swarm.

    One list call, filtered by the swarm itself: its answer grows with the user
    servers asked about, and no more. On one node, tasks being stopped count
    too (a drain sets their desired state to shutdown before their container
    is gone); the node bounds that answer.
    """
    filters = {"label": USER_TASKS["label"], "node": node_id} if node_id else dict(USER_TASKS)
    return [t for t in api.tasks(filters=filters) if t["Status"]["State"] in LIVE_TASK_STATES]


def snapshot(api) -> tuple[list[NodeUsage], list[PendingServer]]:
    """Worker nodes with their reservations, and user servers not yet placed.

    `api` is a docker.APIClient (low level, as dockerspawner uses).
    """
    nodes: dict[str, NodeUsage] = {}
    for n in api.nodes():
        spec, desc, status = n["Spec"], n["Description"], n["Status"]
        res = desc.get("Resources", {})
        nodes[n["ID"]] = NodeUsage(
            id=n["ID"],
            hostname=desc.get("Hostname", ""),
            instance_id=instance_id_of(n),
            role=spec.get("Role", ""),
            state=status.get("State", "unknown"),
            availability=spec.get("Availability", "active"),
            mem_total=int(res.get("MemoryBytes", 0)),
            cpu_total=res.get("NanoCPUs", 0) / 1e9,
            created_at=n.get("CreatedAt", ""),
        )
    tasks = live_user_tasks(api)
    service_ids = {t["ServiceID"] for t in tasks}
    users = owners(api, service_ids)
    forget_gone(api, service_ids)
    pending: list[PendingServer] = []
    for task in tasks:
        user = users.get(task["ServiceID"])
        if user is None:
            continue
        reservations = task["Spec"].get("Resources", {}).get("Reservations", {})
        mem = int(reservations.get("MemoryBytes", 0))
        cpu = reservations.get("NanoCPUs", 0) / 1e9
        node = nodes.get(task.get("NodeID", ""))
        if node is None:
            pending.append(PendingServer(user=user, mem=mem, cpu=cpu))
            continue
        node.mem_reserved += mem
        node.cpu_reserved += cpu
        node.user_servers.append(user)
    workers = [n for n in nodes.values() if n.role == "worker"]
    return workers, pending
