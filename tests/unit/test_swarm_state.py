"""swarm.state and swarm.nodes at the Docker API boundary: what a poll reads.

The fake manager filters as swarmkit does (a task's `label` filter matches its
service's labels; `node`, `desired-state`, a service's `id` prefix) and counts
the objects each answer carries, so a test can say how a poll's cost grows:
with the user servers asked about, not with everything the swarm holds.
"""

from __future__ import annotations

from swarmhub.swarm import labels
from swarmhub.swarm.nodes import user_servers_on
from swarmhub.swarm.state import snapshot

GiB = 1024**3


class Manager:
    """A manager's low-level API over an in-memory swarm; `read` counts objects returned."""

    def __init__(self, nodes: int):
        self._nodes = [
            {
                "ID": f"n{i}",
                "Spec": {"Role": "worker", "Availability": "active"},
                "Description": {
                    "Hostname": f"n{i}",
                    "Resources": {"MemoryBytes": 64 * GiB, "NanoCPUs": 16 * 10**9},
                    "Engine": {"Labels": {}},
                },
                "Status": {"State": "ready"},
            }
            for i in range(nodes)
        ]
        self._services: dict[str, dict] = {}
        self._tasks: list[dict] = []
        self.read = 0
        self.calls: list[str] = []

    # -- the swarm changing --------------------------------------------------

    def add_service(self, name: str, node: str | None, svc_labels: dict, history: int = 0):
        sid = f"id{len(self._services):05d}{name}"
        self._services[sid] = {"ID": sid, "Spec": {"Name": name, "Labels": svc_labels}}
        for _ in range(history):  # earlier tasks of the service, stopped
            self._task(sid, node, "shutdown", "shutdown")
        self._task(sid, node, "running", "running" if node else "pending")
        return sid

    def spawn(self, user: str, node: str | None, history: int = 0) -> str:
        user_labels = {labels.USER_SERVER: "true", labels.USER: user}
        return self.add_service(f"jupyter-{user}", node, user_labels, history)

    def remove(self, sid: str) -> None:
        del self._services[sid]
        self._tasks = [t for t in self._tasks if t["ServiceID"] != sid]

    def drain(self, node: str) -> None:
        """Tasks on the node are told to shut down; their containers still run."""
        for t in self._tasks:
            if t["NodeID"] == node:
                t["DesiredState"] = "shutdown"

    def _task(self, sid, node, desired, state):
        self._tasks.append(
            {
                "ServiceID": sid,
                "NodeID": node or "",
                "DesiredState": desired,
                "Status": {"State": state},
                "Spec": {"Resources": {"Reservations": {"MemoryBytes": GiB, "NanoCPUs": 10**8}}},
            }
        )

    # -- the API ---------------------------------------------------------------

    def _answer(self, call: str, items: list) -> list:
        self.calls.append(call)
        self.read += len(items)
        return items

    def nodes(self, filters=None):
        return self._answer("nodes", list(self._nodes))

    def services(self, filters=None):
        filters = filters or {}
        out = [s for s in self._services.values() if _labelled(s, filters.get("label"))]
        if "id" in filters:
            out = [s for s in out if any(s["ID"].startswith(p) for p in filters["id"])]
        return self._answer("services", out)

    def tasks(self, filters=None):
        filters = filters or {}
        out = [
            t
            for t in self._tasks
            if t["ServiceID"] in self._services
            and _labelled(self._services[t["ServiceID"]], filters.get("label"))
            and filters.get("node", t["NodeID"]) == t["NodeID"]
            and filters.get("desired-state", t["DesiredState"]) == t["DesiredState"]
        ]
        return self._answer("tasks", out)

    def info(self):
        return {"MemTotal": 64 * GiB, "NCPU": 16}


def _labelled(service: dict, label: str | None) -> bool:
    if label is None:
        return True
    key, _, value = label.partition("=")
    return service["Spec"]["Labels"].get(key) == value


def _busy_swarm(users: int = 300, nodes: int = 10) -> Manager:
    """`users` running servers spread over `nodes`, each with a stopped earlier
    task, beside another stack of 400 services of no concern to swarmhub."""
    m = Manager(nodes)
    for i in range(users):
        m.spawn(f"u{i}", f"n{i % nodes}", history=2)
    for i in range(400):
        m.add_service(f"other-{i}", f"n{i % nodes}", {"team": "web"})
    return m


def test_a_poll_reads_the_running_user_servers_and_nothing_else():
    m = _busy_swarm(users=300, nodes=10)
    snapshot(m)  # the first poll learns who each service serves
    m.read, m.calls = 0, []

    workers, pending = snapshot(m)

    assert sum(len(w.user_servers) for w in workers) == 300
    assert pending == []
    # One object per node and per running user server: no other stack's tasks,
    # no task history, and no service list again.
    assert m.read == 10 + 300
    assert m.calls == ["nodes", "tasks"]


def test_a_new_server_costs_one_service_read_and_a_removed_one_none():
    m = _busy_swarm(users=300, nodes=10)
    snapshot(m)
    gone = next(iter(m._services))
    m.remove(gone)
    m.spawn("newcomer", None)
    m.read, m.calls = 0, []

    workers, pending = snapshot(m)

    assert [p.user for p in pending] == ["newcomer"]
    assert [p.mem for p in pending] == [GiB]
    assert sum(len(w.user_servers) for w in workers) == 299
    assert "u0" not in {u for w in workers for u in w.user_servers}
    assert m.read == 10 + 300 + 1  # nodes, live tasks, the newcomer's service
    assert m.calls == ["nodes", "tasks", "services"]


def test_reservations_add_up_per_node():
    m = Manager(nodes=2)
    m.spawn("alice", "n0")
    m.spawn("bob", "n0")
    m.spawn("carol", "n1")
    m.add_service("hub", "n1", {labels.MANAGED: "true"})

    workers, _ = snapshot(m)

    by_id = {w.id: w for w in workers}
    assert sorted(by_id["n0"].user_servers) == ["alice", "bob"]
    assert by_id["n0"].mem_reserved == 2 * GiB
    assert by_id["n1"].user_servers == ["carol"]
    assert abs(by_id["n1"].cpu_reserved - 0.1) < 1e-9


def test_waiting_for_a_node_to_empty_reads_that_node_only():
    m = _busy_swarm(users=300, nodes=10)
    m.read, m.calls = 0, []

    users = user_servers_on(m, "n3")

    assert users == sorted(f"u{i}" for i in range(3, 300, 10))
    # n3's 30 servers, each with its running task, two stopped tasks, its service.
    assert m.read == 30 * 3 + 30
    m.read = 0
    assert user_servers_on(m, "n3") == users
    assert m.read == 30 * 3  # the services are known now


def test_a_draining_node_hosts_its_servers_until_their_containers_stop():
    m = Manager(nodes=2)
    sid = m.spawn("alice", "n1")
    m.drain("n1")

    assert user_servers_on(m, "n1") == ["alice"]
    m.remove(sid)
    assert user_servers_on(m, "n1") == []
