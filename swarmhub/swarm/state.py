"""What the swarm holds right now: worker nodes and the reservations on them.

Read through the Docker API of a manager. Used by the spawner to pack servers
and by the autoscaler to measure supply.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from swarmhub.swarm import labels

_ACTIVE_TASK_STATES = {
    "new", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running",
}  # fmt: skip


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


@dataclass
class PendingServer:
    user: str
    mem: int
    cpu: float


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
            instance_id=desc.get("Engine", {}).get("Labels", {}).get(labels.INSTANCE_ID, ""),
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
        if task["Status"]["State"] not in _ACTIVE_TASK_STATES:
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


def set_availability(api, node_id: str, value: str, attempts: int = 3) -> None:
    """active | pause | drain, through a manager's low-level API.

    Re-reads and retries when someone else changed the node in between
    ("update out of sequence"); a node already at `value` is left alone.
    """
    from docker.errors import APIError

    for attempt in range(attempts):
        node = api.inspect_node(node_id)
        if node["Spec"].get("Availability") == value:
            return
        try:
            api.update_node(
                node_id, node["Version"]["Index"], {**node["Spec"], "Availability": value}
            )
            return
        except APIError as exc:
            if "out of sequence" not in str(exc) or attempt == attempts - 1:
                raise
