"""SwarmhubSpawner: dockerspawner's SwarmSpawner with what a class needs.

- readiness is polled every quarter second instead of dockerspawner's backoff
  (1 s growing to 11 s), which alone adds seconds to every spawn; so is the
  server's HTTP answer, before the hub's own check (its backoff grows to 5 s);
- a server whose node is down counts as stopped, so the hub notices within its
  poll interval and the student can start again on a healthy node (with
  restart condition "none" Swarm does not restart it behind the hub's back);
- the home directory exists and belongs to the notebook user before the server
  starts (a bind mount of a missing path would be created root-owned);
- each new server goes to the fullest worker that still fits it (packing), so
  idle nodes empty out and the autoscaler can remove them;
- disk quotas: a spawn over the hard limit is refused with how much to delete
  (403; the spawn page shows the message), one over the soft limit is warned
  in the spawn's progress events;
- profiles (swarmhub.hub.profiles) are applied by the `apply_user_options`
  hook that hubconfig sets, before anything here runs.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from pprint import pformat

from docker.types import RestartPolicy
from dockerspawner import SwarmSpawner
from tornado import web
from traitlets import Bool, Float, Int, Unicode, default

from swarmhub.hub import labels

DOCKER_THREADS = 8
_STARTING = {"new", "pending", "assigned", "accepted", "preparing", "ready", "starting"}


def _gib(n: int) -> str:
    return f"{n / 1024**3:.1f} GiB"


class SwarmhubSpawner(SwarmSpawner):
    homes_hub_dir = Unicode(
        "/homes", config=True, help="Where the hub container sees every user's home."
    )
    home_uid = Int(1000, config=True, help="uid that owns homes (the notebook user).")
    pack = Bool(True, config=True, help="Place servers on the fullest node that fits.")
    ready_poll = Float(0.2, config=True, help="First wait between task state checks at start.")
    room_poll = Float(1.0, config=True, help="Seconds between looks for a node with room.")
    answer_poll = Float(0.25, config=True, help="Seconds between checks that a server answers.")
    room_margin = Float(
        10.0, config=True, help="Stop waiting for room this long before start_timeout."
    )

    _quota_verdict = None  # this spawn's verdict, for progress()
    _quota_checked = False
    _placed = True  # False from start() until this spawn has a node (or gave up)

    @default("extra_task_spec")
    def _default_task_spec(self):
        # The hub owns a server's life: a crashed or orphaned server is reported
        # stopped, not silently restarted on another node.
        return {"restart_policy": RestartPolicy(condition="none")}

    @default("extra_create_kwargs")
    def _default_create_kwargs(self):
        return {"labels": {labels.USER_SERVER: "true", labels.USER: self.user.name}}

    # --- start -------------------------------------------------------------

    async def start(self):
        self._quota_checked = False
        self._quota_verdict = None
        self._placed = False
        ip, port = await super().start()
        await self._until_answering(ip, port)
        return ip, port

    async def _until_answering(self, ip: str, port: int) -> None:
        """Wait, polling every quarter second, until the server answers HTTP.

        The hub then checks the same URL, but with a backoff that grows to 5 s
        between tries: with a class starting at once, the last servers would
        answer seconds before the hub looks. Any answer below 500 counts, as
        for the hub; if none comes within http_timeout the hub's check reports it.
        """
        from tornado.httpclient import AsyncHTTPClient, HTTPClientError

        base = self.server.base_url if self.server else "/"
        url = f"http://{ip}:{port}{base}"
        client = AsyncHTTPClient()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.http_timeout
        while loop.time() < deadline:
            try:
                await client.fetch(
                    url, follow_redirects=False, connect_timeout=1, request_timeout=2
                )
                return
            except HTTPClientError as exc:
                if exc.code < 500:
                    return  # any answer below 500 (even 404) counts, as for the hub
            except OSError:
                pass  # not listening yet
            await asyncio.sleep(self.answer_poll)

    async def create_object(self):
        try:
            self._ensure_home()
            self._refuse_over_quota()
            node_id = await self._wait_for_room() if self.pack else None
        finally:
            self._placed = True  # progress() stops saying "waiting for a node"
        if node_id:
            constraints = [
                c
                for c in (self.extra_placement_spec.get("constraints") or [])
                if not c.startswith("node.id")
            ]
            self.extra_placement_spec = {
                **self.extra_placement_spec,
                "constraints": [*constraints, f"node.id=={node_id}"],
            }
        try:
            return await super().create_object()
        except BaseException:
            from swarmhub.hub import placement

            placement.LEDGER.release(self.service_name)  # no server will use the room
            raise

    # dockerspawner sends every Docker call through one global thread: with a
    # class starting at once, 20 spawns queue behind each other's polls.
    # docker-py's client pools its connections, so calls can run side by side.
    _executor = None

    @property
    def executor(self):
        cls = self.__class__
        if cls._executor is None:
            cls._executor = ThreadPoolExecutor(DOCKER_THREADS, thread_name_prefix="docker")
        return cls._executor

    async def start_object(self):
        """Wait for the task to run: short polls at first, backing off to 1 s."""
        from swarmhub.hub import placement

        self._placed = True  # also when dockerspawner found the service already there
        delay = self.ready_poll
        try:
            while True:
                task = await self.get_task()
                if not task:
                    raise RuntimeError(f"Service {self.service_name} not found")
                state = task["Status"]["State"].lower()
                if state not in _STARTING and state != "rejected":
                    break
                await asyncio.sleep(delay)
                delay = min(delay * 1.3, 1.0)
        finally:
            # Placed or failed: from here the swarm's own view counts it.
            placement.LEDGER.release(self.service_name)
        if state != "running":
            raise RuntimeError(
                f"Service {self.service_name} not running: {pformat(task['Status'])}"
            )

    async def get_ip_and_port(self):
        """The task's own address on our overlay network, not the service's name.

        A name can still resolve to a dead node's stale record for a while (its
        gossip entries outlive it), and resolving it before the task runs stalls
        seconds; the task's attachment is exact and needs no lookup.
        """
        task = await self.get_task()
        for attachment in (task or {}).get("NetworksAttachments") or []:
            network = attachment.get("Network", {}).get("Spec", {}).get("Name")
            if network == self.network_name and attachment.get("Addresses"):
                return attachment["Addresses"][0].split("/")[0], self.port
        return await super().get_ip_and_port()

    # --- poll --------------------------------------------------------------

    async def poll(self):
        task = await self.get_task()
        if not task:
            return 0
        state = task["Status"]["State"]
        if task.get("DesiredState") not in ("running", "ready", None):
            return f"task {state}, desired {task.get('DesiredState')}"
        if state not in ("running", "starting", "pending", "preparing", "assigned", "accepted"):
            return pformat(task["Status"])
        node_id = task.get("NodeID")
        if node_id:
            node = await self.docker("inspect_node", node_id)
            if node["Status"]["State"] != "ready":
                self.log.warning(
                    "Server of %s is on node %s, which is %s",
                    self.user.name,
                    node["Description"]["Hostname"],
                    node["Status"]["State"],
                )
                return f"node {node['Description']['Hostname']} is {node['Status']['State']}"
        return None

    # --- homes and quotas ----------------------------------------------------

    def _home(self) -> str:
        return os.path.join(self.homes_hub_dir, self.user.name)

    def _ensure_home(self) -> None:
        home = self._home()
        if not os.path.isdir(home):
            os.makedirs(home, mode=0o750, exist_ok=True)
            os.chown(home, self.home_uid, self.home_uid)

    def _refuse_over_quota(self) -> None:
        from swarmhub.hub import quota

        try:
            verdict = quota.check(self._home(), self.config_quota())
        finally:
            self._quota_checked = True
        self._quota_verdict = verdict
        if verdict and verdict.over_hard:
            err = web.HTTPError(403, verdict.message)
            # JupyterHub shows jupyterhub_message as is on the spawn page and in the API.
            err.jupyterhub_message = verdict.message
            raise err
        if verdict and verdict.over_soft:
            self.log.info("%s is over the soft disk quota: %s", self.user.name, verdict.message)

    async def progress(self):
        """The spawn page's events: the quota warning first, if there is one."""
        # start() checks the quota first thing; wait for it only a moment.
        for _ in range(20):
            if self._quota_checked:
                break
            await asyncio.sleep(0.1)
        verdict = self._quota_verdict
        if verdict and verdict.over_soft:
            yield {"progress": 10, "message": f"Warning: {verdict.message}"}
        # Until a node has room, say so (the class's first minutes on a cold pool).
        told = False
        while not self._placed:
            if self._waiting_for_room and not told:
                told = True
                yield {
                    "progress": 20,
                    "message": "Every node is full: a new one is starting, "
                    "your server will start on it (about a minute).",
                }
            await asyncio.sleep(0.1)
        async for event in super().progress():
            yield event

    def config_quota(self):
        from swarmhub.hub.settings import load

        return load().config.quota

    # --- packing -------------------------------------------------------------

    _waiting_for_room = False

    async def _wait_for_room(self) -> str | None:
        """The node this server goes to; while no node has room, wait for one.

        The server's service is only created once a node fits it, and then pinned
        there. Leaving it to the swarm instead (a task pending for resources) is
        not enough: Swarm does not reliably look at a pending task again when a
        new node joins, and the server can sit pending until the start timeout.
        While we wait the hub shows the server as starting, which the autoscaler
        counts as demand; the spawn page says that a node is on its way.
        """
        from swarmhub.hub import placement

        mem, cpu = self.mem_guarantee or 0, self.cpu_guarantee or 0
        loop = asyncio.get_running_loop()
        give_up = loop.time() + max(1.0, self.start_timeout - self.room_margin)
        while True:
            try:
                node_id = await loop.run_in_executor(
                    self.executor, placement.choose, self.client, mem, cpu, self.service_name
                )
            except Exception:
                # Packing is an optimisation: if it fails, the swarm places the server.
                self.log.exception("packing failed; leaving placement to the swarm")
                return None
            if node_id is not None:
                self._waiting_for_room = False
                return node_id
            if not self._waiting_for_room:
                self._waiting_for_room = True
                self.log.info(
                    "No worker has room for %s's server (%s, %g CPU); waiting for a node",
                    self.user.name,
                    _gib(mem),
                    cpu,
                )
            if loop.time() >= give_up:
                self._waiting_for_room = False
                message = (
                    f"No worker node had room for a server of {_gib(mem)} and {cpu:g} CPU "
                    f"within {self.start_timeout} s: the autoscaler may be at max_nodes, "
                    "or a new node did not come up. Please try again in a few minutes."
                )
                err = web.HTTPError(503, message)
                err.jupyterhub_message = message
                raise err
            await asyncio.sleep(self.room_poll)
