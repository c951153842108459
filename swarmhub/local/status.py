"""`status` on the local target: the hub, the nodes and their reservations, the users."""

from __future__ import annotations

import json

from swarmhub.config import Config
from swarmhub.errors import SwarmhubError
from swarmhub.local import engine
from swarmhub.local.deploy import hub_client
from swarmhub.local.render import host_ip, scheme
from swarmhub.swarm.state import snapshot


def status(cfg: Config, as_json: bool = False) -> None:
    engine.require_root()
    if not engine.is_up():
        raise SwarmhubError("the Docker engine is not running", hint="python pipeline.py deploy")
    client = engine.client()
    if client.info()["Swarm"]["LocalNodeState"] != "active":
        raise SwarmhubError("nothing is deployed (no swarm)", hint="python pipeline.py deploy")
    hub = hub_client(cfg)
    url = f"{scheme(cfg)}://{host_ip()}:{cfg.hub.port}/"
    health = hub.health()
    workers, pending = snapshot(client.api)
    nodes = [
        {
            "id": n.instance_id or n.hostname,
            "state": n.state,
            "availability": n.availability,
            "servers": len(n.user_servers),
            "mem_reserved": n.mem_reserved,
            "mem_total": n.mem_total,
            "cpu_reserved": n.cpu_reserved,
            "cpu_total": n.cpu_total,
        }
        for n in sorted(workers, key=lambda n: n.instance_id or n.hostname)
    ]
    # A slow hub still answers: ask it for its users (a dead one cannot say).
    users = []
    if health.state != "not answering":
        for u in hub.users():
            server = u.get("servers", {}).get("", {})
            users.append(
                {"name": u["name"], "admin": bool(u.get("admin")), "server": _server_state(server)}
            )
    if as_json:
        report = {"hub": {"url": url, **health.as_dict()}, "nodes": nodes, "waiting": len(pending)}
        report["users"] = users if health.state != "not answering" else None
        print(json.dumps(report, indent=2))
        return
    print(f"hub      {url}  {health.line()}")
    print(f"nodes    {len(workers)} worker(s), {len(pending)} server(s) waiting for room")
    for n in nodes:
        print(
            f"  {n['id']:<20} {n['state']:<8} {n['availability']:<7} "
            f"servers={n['servers']:<3} reserved={n['mem_reserved'] / 2**30:.1f}/"
            f"{n['mem_total'] / 2**30:.1f}GiB {n['cpu_reserved']:.2f}/{n['cpu_total']:.0f}cpu"
        )
    if health.state != "not answering":
        print(f"users    {len(users)}")
        for u in users:
            print(f"  {u['name']:<20} {'admin ' if u['admin'] else ''}{u['server']}")


# What the hub's pending states mean to an operator. "check": the hub has
# restarted and waits for a server whose task runs to answer (decision 0040).
_PENDING = {"spawn": "starting", "stop": "stopping", "check": "running, not answering yet"}


def _server_state(server: dict) -> str:
    if not server:
        return "stopped"
    if server.get("ready"):
        return "running"
    return _PENDING.get(server.get("pending") or "spawn", str(server.get("pending")))
