"""`status` on the local target: the hub, the nodes and their reservations, the users."""

from __future__ import annotations

from swarmhub.config import Config
from swarmhub.errors import SwarmhubError
from swarmhub.local import engine
from swarmhub.local.deploy import hub_client
from swarmhub.local.render import host_ip, scheme
from swarmhub.swarm.state import snapshot


def status(cfg: Config) -> None:
    engine.require_root()
    if not engine.is_up():
        raise SwarmhubError("the Docker engine is not running", hint="python pipeline.py deploy")
    client = engine.client()
    if client.info()["Swarm"]["LocalNodeState"] != "active":
        raise SwarmhubError("nothing is deployed (no swarm)", hint="python pipeline.py deploy")
    hub = hub_client(cfg)
    healthy = hub.healthy()
    print(
        f"hub      {scheme(cfg)}://{host_ip()}:{cfg.hub.port}/  "
        f"{'healthy' if healthy else 'NOT ANSWERING'}"
    )
    workers, pending = snapshot(client.api)
    print(f"nodes    {len(workers)} worker(s), {len(pending)} server(s) waiting for room")
    for n in sorted(workers, key=lambda n: n.instance_id or n.hostname):
        print(
            f"  {n.instance_id or n.hostname:<20} {n.state:<8} {n.availability:<7} "
            f"servers={len(n.user_servers):<3} reserved={n.mem_reserved / 2**30:.1f}/"
            f"{n.mem_total / 2**30:.1f}GiB {n.cpu_reserved:.2f}/{n.cpu_total:.0f}cpu"
        )
    if healthy:
        users = hub.users()
        print(f"users    {len(users)}")
        for u in users:
            server = u.get("servers", {}).get("", {})
            state = _server_state(server)
            print(f"  {u['name']:<20} {'admin ' if u.get('admin') else ''}{state}")


# What the hub's pending states mean to an operator. "check": the hub has
# restarted and waits for a server whose task runs to answer (decision 0040).
_PENDING = {"spawn": "starting", "stop": "stopping", "check": "running, not answering yet"}


def _server_state(server: dict) -> str:
    if not server:
        return "stopped"
    if server.get("ready"):
        return "running"
    return _PENDING.get(server.get("pending") or "spawn", str(server.get("pending")))
