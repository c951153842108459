"""What the swarm holds right now: worker nodes and the reservations on them.

Read through the Docker API of a manager. Used by the spawner to pack servers
and by the autoscaler to measure supply.
"""

from __future__ import annotations

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
    services = {s["ID"]: s for s in api.services(filters={"label": f"{labels.USER_SERVER}=true"})}
    pending: list[PendingServer] = []
    for task in api.tasks(filters={"desired-state": "running"}):
        service = services.get(task["ServiceID"])
        if service is None:
            continue
        if task["Status"]["State"] not in LIVE_TASK_STATES:
            continue
        reservations = task["Spec"].get("Resources", {}).get("Reservations", {})
        mem = int(reservations.get("MemoryBytes", 0))
        cpu = reservations.get("NanoCPUs", 0) / 1e9
        user = service["Spec"].get("Labels", {}).get(labels.USER, service["Spec"]["Name"])
        node = nodes.get(task.get("NodeID", ""))
        if node is None:
            pending.append(PendingServer(user=user, mem=mem, cpu=cpu))
            continue
        node.mem_reserved += mem
        node.cpu_reserved += cpu
        node.user_servers.append(user)
    workers = [n for n in nodes.values() if n.role == "worker"]
    return workers, pending
