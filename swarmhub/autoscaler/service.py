"""The autoscaler as a JupyterHub-managed service: gather, decide, apply, every poll.

    python -m swarmhub.autoscaler.service   (started by the hub; see hubconfig)

State comes from two places at one instant: the swarm (worker nodes, their
reservations, user-server tasks, assigned or waiting) and the hub API (servers
the hub is starting that have no task yet), through a token that can only read
users and servers. The pool is the local agent or the ASG. `decide()` is pure;
everything with I/O is here. Metrics are served at
/services/autoscaler/metrics beside the hub's own.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import docker
import requests

from swarmhub.autoscaler import metrics
from swarmhub.autoscaler.apply import apply
from swarmhub.autoscaler.decide import decide, utcnow
from swarmhub.autoscaler.fleetlog import FILE_NAME as FLEET_FILE
from swarmhub.autoscaler.fleetlog import FleetRecorder
from swarmhub.autoscaler.model import Node, Resources, Server, State
from swarmhub.autoscaler.pools.base import NodePool
from swarmhub.courses import calendar
from swarmhub.errors import SwarmhubError
from swarmhub.hub import events
from swarmhub.hub.settings import Settings, load, secret
from swarmhub.swarm import nodes as swarm_nodes
from swarmhub.swarm.nodes import set_availability
from swarmhub.swarm.state import snapshot

log = logging.getLogger("swarmhub.autoscaler")


class DockerSwarmOps:
    """The swarm operations `apply()` needs, through a manager's Docker API."""

    def __init__(self, api):
        self.api = api

    def tasks_on(self, node_id: str) -> list[str]:
        return swarm_nodes.user_servers_on(self.api, node_id)

    def _availability(self, node_id: str, value: str) -> None:
        set_availability(self.api, node_id, value)

    def pause(self, node_id: str) -> None:
        self._availability(node_id, "pause")

    def drain(self, node_id: str) -> None:
        self._availability(node_id, "drain")

    def activate(self, node_id: str) -> None:
        self._availability(node_id, "active")


@dataclass
class Memory:
    """What the loop keeps between polls (decide() itself keeps nothing)."""

    empty_since: dict[str, datetime] = field(default_factory=dict)
    down_since: dict[str, datetime] = field(default_factory=dict)
    last_scale_out: datetime | None = None
    started: datetime = field(default_factory=utcnow)


def make_pool(s: Settings, api) -> NodePool:
    if s.runtime.target == "local":
        from swarmhub.autoscaler.pools.local import LocalPool

        return LocalPool(s.runtime.pool_url, secret("swarmhub-pool-token"))
    from swarmhub.autoscaler.pools.aws import AsgPool, swarm_ids_from_nodes

    region = s.config.aws.region if s.config.aws else None
    return AsgPool(s.runtime.asg_name, lambda: swarm_ids_from_nodes(api.nodes()), region=region)


class Starting(dict):
    """user -> the options they asked for, of the servers the hub is starting;
    `groups`: user -> their groups (a course's exam changes a server's size)."""

    def __init__(self, *args, groups: dict[str, list[str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.groups = groups or {}


def hub_starting(session: requests.Session, api_url: str) -> Starting:
    """Users whose server the hub is starting (their task may not exist yet),
    with the options they asked for (the profile says how big the server is)."""
    from swarmhub.hubclient import PAGED, paged

    users = paged(
        lambda p: session.get(f"{api_url}/users", params=p, headers=PAGED, timeout=10),
        {"state": "active"},
    )
    out = Starting()
    for user in users:
        for server in (user.get("servers") or {}).values():
            if server.get("pending") == "spawn":
                out[user["name"]] = server.get("user_options") or {}
                out.groups[user["name"]] = list(user.get("groups") or [])
    return out


def _reservation(
    s: Settings, options: dict, groups: list[str] = (), now: datetime | None = None
) -> Resources:
    """What a server started with `options` will reserve: the spawner's own rule
    (swarmhub.courses.sizing), its profile's size or, during an exam of the
    student's course, its limit."""
    from swarmhub.config.courses import utcnow
    from swarmhub.courses.sizing import Catalogue

    catalogue = Catalogue.of(s.config, s.runtime.notebook_image)
    now = now or utcnow()
    try:
        size = catalogue.size(options, catalogue.membership(set(groups), now), now)
    except ValueError:
        # The hub refuses such a spawn; until it does, count a default server.
        return Resources(s.config.servers.mem_reservation, s.config.servers.cpu_reservation)
    return Resources(size.mem, size.cpu)


def gather(
    s: Settings, api, pool: NodePool, memory: Memory, starting: dict[str, dict], now
) -> State:
    workers, waiting = snapshot(api)
    shape = _node_shape(workers, api)
    pool_nodes = {p.swarm_id: p for p in pool.list_nodes() if p.swarm_id}
    nodes, servers = [], []
    for w in workers:
        if w.state in ("down", "disconnected"):
            # Its engine died or its network is cut: no supply, whatever it hosted
            # (the hub reports those servers stopped); lost after a grace.
            memory.down_since.setdefault(w.id, now)
        else:
            memory.down_since.pop(w.id, None)
        sized = w.mem_total > 0
        if not sized:
            # Joined a moment ago and not yet reporting its resources: it is
            # the node a scale-out asked for, about to offer a node's worth.
            # (Counted as empty, it would look like no supply and ask again.)
            w.mem_total, w.cpu_total = shape.mem, shape.cpu
        if w.user_servers:
            memory.empty_since.pop(w.id, None)
        else:
            memory.empty_since.setdefault(w.id, max(now, memory.started))
        pooled = pool_nodes.get(w.id)
        nodes.append(
            Node(
                id=w.id,
                ready=w.state == "ready" and sized,
                mem_total=w.mem_total,
                cpu_total=w.cpu_total,
                mem_reserved=w.mem_reserved,
                cpu_reserved=w.cpu_reserved,
                user_servers=len(w.user_servers),
                empty_since=memory.empty_since.get(w.id),
                protected=bool(pooled and pooled.protected),
                draining=w.availability != "active",
                down_since=memory.down_since.get(w.id),
            )
        )
        for user in w.user_servers:
            servers.append(Server(user, w.id, pending=False, mem=0, cpu=0.0))
    slot = Resources(s.config.servers.mem_reservation, s.config.servers.cpu_reservation)
    placed = {srv.user for srv in servers} | {p.user for p in waiting}
    for p in waiting:
        servers.append(
            Server(p.user, None, pending=True, mem=p.mem or slot.mem, cpu=p.cpu or slot.cpu)
        )
    for user in sorted(starting.keys() - placed):
        groups = getattr(starting, "groups", {}).get(user, [])
        size = _reservation(s, starting[user], groups, now)
        servers.append(Server(user, None, pending=True, mem=size.mem, cpu=size.cpu))
    # Joined, Ready or not: a node that joined a moment ago is no longer in flight.
    joined = len(nodes)
    return State(
        nodes=tuple(nodes),
        servers=tuple(servers),
        pending_requests=max(0, pool.get_desired() - joined),
        last_scale_out=memory.last_scale_out,
        node_shape=shape,
        slot=slot,
        # Course windows join the schedule while their course runs (#15).
        config=calendar.with_courses(s.config, now),
    )


def _node_shape(workers, api) -> Resources:
    sized = [w for w in workers if w.mem_total > 0]
    if sized:
        biggest = max(sized, key=lambda w: w.mem_total)
        return Resources(biggest.mem_total, biggest.cpu_total)
    # No worker yet: on the local target a node is this machine; on AWS the
    # first instance tells (until then the manager's size is the best guess).
    info = api.info()
    return Resources(int(info["MemTotal"]), float(info["NCPU"]))


def step(
    s: Settings,
    api,
    pool: NodePool,
    swarm: DockerSwarmOps,
    memory: Memory,
    starting,
    fleet: FleetRecorder | None = None,
):
    now = utcnow()
    state = gather(s, api, pool, memory, starting, now)
    if fleet is not None:
        # Every worker is paid for, joined or booting: what `report` bills.
        fleet.record(now, len(state.nodes) + state.pending_requests)
    plan = decide(state, now)
    metrics.record(plan, state)
    before = pool.get_desired()
    done = apply(plan, pool, swarm)
    if done.desired is not None and done.desired > before:
        memory.last_scale_out = now
    for node_id in done.removed:
        memory.empty_since.pop(node_id, None)
    return plan, done


class DecisionLog:
    """One INFO line per decision that differs from the last one, so the log
    says what the autoscaler does without a line every poll."""

    def __init__(self):
        self.last = ""

    def __call__(self, plan) -> None:
        if plan.reason != self.last:
            log.info("%s", plan.reason)
            self.last = plan.reason


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="[%(levelname)s %(asctime)s autoscaler] %(message)s"
    )
    s = load()
    api = docker.APIClient(base_url="unix:///var/run/docker.sock", timeout=60)
    pool = make_pool(s, api)
    swarm = DockerSwarmOps(api)
    memory = Memory()
    hub = requests.Session()
    hub.headers["Authorization"] = f"token {os.environ['JUPYTERHUB_API_TOKEN']}"
    api_url = os.environ["JUPYTERHUB_API_URL"].rstrip("/")
    _serve_metrics()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    interval = s.config.autoscaler.poll_interval
    log.info("started: pool=%s every %ss", type(pool).__name__, interval)
    said = DecisionLog()
    fleet = FleetRecorder(events.events_file().with_name(FLEET_FILE))
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            plan, _ = step(s, api, pool, swarm, memory, hub_starting(hub, api_url), fleet)
            said(plan)
        except (SwarmhubError, requests.RequestException, docker.errors.DockerException) as exc:
            # A transient state (the hub restarting, the pool agent not up yet):
            # one quiet line, and the next poll tries again.
            log.warning("poll skipped, retrying in %ss: %s", interval, exc)
        except Exception:
            # A bug: keep its traceback, and keep scaling.
            log.exception("poll failed; retrying next interval")
        stop.wait(max(0.0, interval - (time.monotonic() - t0)))


def _serve_metrics() -> None:
    """Prometheus text at <JUPYTERHUB_SERVICE_PREFIX>metrics on the service's port."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import urlparse

    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    url = os.environ.get("JUPYTERHUB_SERVICE_URL")
    if not url:
        return
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/autoscaler/")
    port = urlparse(url).port or 80

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            if self.path.rstrip("/") not in (prefix + "metrics", "/metrics"):
                self.send_error(404)
                return
            body = generate_latest(metrics.REGISTRY)
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_LATEST)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)  # noqa: S104 - overlay only
    threading.Thread(target=server.serve_forever, daemon=True).start()


if __name__ == "__main__":
    main()
