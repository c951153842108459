"""SwarmhubSpawner: dockerspawner's SwarmSpawner with what a class needs.

- readiness is polled every quarter second instead of dockerspawner's backoff
  (1 s growing to 11 s), which alone adds seconds to every spawn; so is the
  server's HTTP answer, before the hub's own check (its backoff grows to 5 s);
- a server whose node is down counts as stopped, so the hub notices within its
  poll interval and the student can start again on a healthy node (with
  restart condition "none" Swarm does not restart it behind the hub's back);
- after a hub restart, a server whose task still runs but does not answer yet
  (the overlay comes back up to minutes after the manager's engine restarts),
  or whose task the swarm cannot tell yet, is looked at again, up to
  `restored_answer_timeout`, before the hub's own check (http_timeout) may
  call it dead and stop it;
- the home directory exists and belongs to the notebook user before the server
  starts (a bind mount of a missing path would be created root-owned);
- each new server goes to the fullest worker that still fits it (packing), so
  idle nodes empty out and the autoscaler can remove them;
- disk quotas: a spawn over the hard limit is refused with how much to delete
  (403; the spawn page shows the message), one over the soft limit is warned
  in the spawn's progress events;
- profiles (swarmhub.hub.profiles) are applied by the `apply_user_options`
  hook that hubconfig sets, before anything here runs; so are a course's
  folders (`course_mounts`), which are made here before the server starts.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
from concurrent.futures import ThreadPoolExecutor
from pprint import pformat

from docker.types import RestartPolicy
from dockerspawner import SwarmSpawner
from tornado import web
from traitlets import Any, Bool, Dict, Float, Int, List, Unicode, default

from swarmhub.hub import events, mountpaths
from swarmhub.swarm import labels

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
    quota = Any(None, config=True, help="The QuotaConfig homes are measured against.")
    autoscaling = Bool(False, config=True, help="Whether the autoscaler adds nodes.")
    max_nodes = Int(0, config=True, help="The autoscaler's max_nodes.")
    slow_answer = Float(
        10.0, config=True, help="Seconds without an answer before the spawn page says why."
    )
    restored_answer_timeout = Float(
        600.0,
        config=True,
        help="After a hub restart, how long a server whose task runs may not answer "
        "before the hub's own check (http_timeout) decides.",
    )
    restored_poll = Float(
        5.0, config=True, help="Seconds between looks at such a server (its task, then HTTP)."
    )
    courses_host_dir = Unicode(
        "", config=True, help="The course areas as every node sees them (beside the homes)."
    )
    homes_host_dir = Unicode(
        "",
        config=True,
        help="The homes as every node sees them: every mount source must lie below, "
        "reached through folders only (swarmhub.hub.mountpaths).",
    )
    courses = List(help="The config's courses: who is staff (instructor tools) and who not.")
    student_config_path = Unicode(
        "/etc/jupyter/student",
        config=True,
        help="JUPYTER_CONFIG_PATH of a student's server: JupyterLab without "
        "instructor tools (images/notebook/student/).",
    )
    # Set at each spawn by the profile hook (swarmhub.hub.profiles.Offer.apply).
    course_mounts = Dict(help="This spawn's course folders: {host path: {bind, mode}}.")
    course = Unicode("", help="The course this spawn counts for; empty for none.")

    _quota_verdict = None  # this spawn's verdict, for progress()
    _quota_checked = False
    _placed = True  # False from start() until this spawn has a node (or gave up)
    _answering = False  # True while start() waits for the running server to answer
    _answer_wait_from = 0.0

    @default("extra_task_spec")
    def _default_task_spec(self):
        # The hub owns a server's life: a crashed or orphaned server is reported
        # stopped, not silently restarted on another node.
        return {"restart_policy": RestartPolicy(condition="none")}

    @default("extra_endpoint_spec")
    def _default_endpoint_spec(self):
        return {
            # No IPVS: DNS round robin, which also keeps quiet websockets alive.
            "mode": "dnsrr",
            # Published on the server's own node, on a port the node picks
            # (no PublishedPort); the task's status says which (get_ip_and_port).
            "ports": [{"Protocol": "tcp", "TargetPort": self.port, "PublishMode": "host"}],
        }

    @default("extra_create_kwargs")
    def _default_create_kwargs(self):
        return {"labels": {labels.USER_SERVER: "true", labels.USER: self.user.name}}

    def get_env(self):
        env = super().get_env()
        if not self._is_instructor():
            # Students see the student's JupyterLab (images/notebook/student/).
            env["JUPYTER_CONFIG_PATH"] = self.student_config_path
        return env

    def _is_instructor(self) -> bool:
        """An admin, or staff of a course that applies now."""
        from swarmhub.config.courses import utcnow
        from swarmhub.hub import courses

        if getattr(self.user, "admin", False):
            return True
        groups = {g.name for g in getattr(self.user, "groups", [])}
        return bool(courses.membership(list(self.courses), groups, utcnow()).staff)

    # --- start -------------------------------------------------------------

    async def start(self):
        events.requested(self)  # report's record (swarmhub.hub.events); never raises
        try:
            ip, port = await self._start()
        except (Exception, asyncio.CancelledError):
            events.stopped(self, "failed")
            raise
        await events.started(self)
        return ip, port

    async def stop(self, now=False):
        await super().stop(now=now)
        events.stopped(self)

    async def _start(self):
        self._quota_checked = False
        self._quota_verdict = None
        self._placed = False
        self._waiting_for_room = False
        # JupyterHub's start_timeout runs from about here; our own waits end before it.
        self._started_at = asyncio.get_running_loop().time()
        ip, port = await super().start()
        self._answering = True
        self._answer_wait_from = asyncio.get_running_loop().time()
        try:
            await self._until_answering(ip, port)
        finally:
            self._answering = False
        return ip, port

    def _waited_for_answer(self) -> float:
        return asyncio.get_running_loop().time() - self._answer_wait_from

    def _time_left(self) -> float:
        """Seconds until JupyterHub's start_timeout, less `room_margin`."""
        end = self._started_at + self.start_timeout - self.room_margin
        return end - asyncio.get_running_loop().time()

    async def _until_answering(self, ip: str, port: int) -> None:
        """Wait, polling every quarter second, until the server answers HTTP.

        The hub then checks the same URL, but with a backoff that grows to 5 s
        between tries: with a class starting at once, the last servers would
        answer seconds before the hub looks. Any answer below 500 counts, as
        for the hub; if none comes within http_timeout the hub's check reports it.
        """
        from tornado.httpclient import AsyncHTTPClient

        base = self.server.base_url if self.server else "/"
        url = f"http://{ip}:{port}{base}"
        loop = asyncio.get_running_loop()
        # Never past start_timeout: the hub's own check then has the rest.
        deadline = loop.time() + min(self.http_timeout, max(0.0, self._time_left()))
        # Its own client: the shared one allows 10 connections, for everyone.
        client = AsyncHTTPClient(force_instance=True)
        try:
            while loop.time() < deadline:
                if await _answers(client, url):
                    return
                await asyncio.sleep(self.answer_poll)
        finally:
            client.close()

    @property
    def volume_binds(self):
        # The home and whatever is configured, then this spawn's course folders
        # (read-only ones stay read-only: the mount is the permission).
        return {**super().volume_binds, **self.course_mounts}

    async def create_object(self):
        from swarmhub.hub import placement

        try:
            self._ensure_home()
            self._ensure_course_dirs()
            self._check_mount_sources()
            self._refuse_over_quota()
            node_id = await self._wait_for_room() if self.pack else None
        finally:
            self._placed = True  # progress() stops saying "waiting for a node"
        # This spawner may have been used before: never keep an old spawn's pin.
        constraints = [
            c
            for c in (self.extra_placement_spec.get("constraints") or [])
            if not c.startswith(("node.id", f"engine.labels.{placement.IMAGE_LABEL_PREFIX}"))
        ]
        constraints += placement.image_constraints(self.image)
        if node_id:
            constraints.append(f"node.id=={node_id}")
        self.extra_placement_spec = {**self.extra_placement_spec, "constraints": constraints}
        try:
            return await super().create_object()
        except Exception:
            # Not on a cancel (start_timeout, or the user gave up): the thread may
            # still create the service, so its hold stays until it expires.
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

        self._placed = True  # progress() must never outlive the placement
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
        """The server's node's address and the port the node publishes it on.

        The hub and the proxy on the manager then reach the server over the
        nodes' own network, as servers reach the hub (decision 0008), not
        through the overlay: after a manager engine restart the overlay's gossip
        leaves the manager blind to every worker's endpoints for a minute or
        more (docs/decisions/0041). A task without such a port (a service
        created before this change, which a start finds still there) is
        reached at its overlay address as before.
        """
        task = await self.get_task() or {}
        port = _published_port(task, self.port)
        if port and task.get("NodeID"):
            node = await self.docker("inspect_node", task["NodeID"])
            address = _node_address(node)
            if address:
                return address, port
        for attachment in task.get("NetworksAttachments") or []:
            network = attachment.get("Network", {}).get("Spec", {}).get("Name")
            if network == self.network_name and attachment.get("Addresses"):
                self.log.warning(
                    "Server of %s publishes no port on its node: reached on the overlay",
                    self.user.name,
                )
                return attachment["Addresses"][0].split("/")[0], self.port
        return await super().get_ip_and_port()

    # --- poll --------------------------------------------------------------

    async def poll(self):
        if self._check_pending:
            status = await self._check_after_restart()
        else:
            status = await self._poll()
        events.polled(self, status, lost=str(status).startswith("node "))
        return status

    async def _check_after_restart(self):
        """poll() for the hub's check of a server it had before it restarted:
        while the server's task runs, wait for it to answer over the network.

        Right after this poll, JupyterHub asks the server over HTTP and stops it
        when no answer comes within http_timeout; it stops it too when this poll
        raises. After the manager's engine restarts the overlay stays dark for a
        minute or more (decision 0040), and the swarm may not answer at once:
        either would stop servers the fault spared. So until
        `restored_answer_timeout` a Docker error is looked at again, and a
        running task that does not answer is waited for. Returns the task's
        status once it stops, None once the server answers (or at the deadline,
        when the hub's own check decides).
        """
        import docker.errors
        import requests
        from tornado.httpclient import AsyncHTTPClient

        url = self.server.url
        loop = asyncio.get_running_loop()
        since = loop.time()
        deadline = since + self.restored_answer_timeout
        client = AsyncHTTPClient(force_instance=True)
        told = False
        try:
            while True:
                try:
                    status, error = await self._poll(), None
                except (docker.errors.DockerException, requests.RequestException) as exc:
                    status, error = None, exc
                if status is not None:
                    return status
                if error is None and await _answers(client, url, request_timeout=5):
                    if told:
                        self.log.info(
                            "Server of %s answers again after %.0f s",
                            self.user.name,
                            loop.time() - since,
                        )
                    return None
                if loop.time() >= deadline:
                    if error is not None:
                        raise error
                    self.log.warning(
                        "Server of %s runs but has not answered at %s for %.0f s; "
                        "the hub's own check decides now",
                        self.user.name,
                        url,
                        self.restored_answer_timeout,
                    )
                    return None
                if not told:
                    told = True
                    why = (
                        f"the swarm does not answer yet ({error})"
                        if error is not None
                        else f"it runs but does not answer at {url} yet"
                    )
                    self.log.info(
                        "Checking the server of %s after the hub's restart: %s; "
                        "looking again every %.0f s for up to %.0f s",
                        self.user.name,
                        why,
                        self.restored_poll,
                        self.restored_answer_timeout,
                    )
                await asyncio.sleep(self.restored_poll)
        finally:
            client.close()

    async def _poll(self):
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
            # "unknown" is a manager that has just restarted and not heard from
            # the node yet: its servers run on; only a node seen down is lost.
            if node["Status"]["State"] in ("down", "disconnected"):
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
        self._walk(self.user.name, mode=0o750, what="the home folder")

    def _ensure_course_dirs(self) -> None:
        """Make this spawn's course folders (and their mount points in the home)
        owned by the notebook user: a bind mount of a missing path fails."""
        from swarmhub.config.courses import AREA_DIR

        root = self.courses_host_dir.rstrip("/")
        home_inside = (self.notebook_dir or "").rstrip("/")
        for source, bind in self.course_mounts.items():
            rel = mountpaths.relative_to(source, root) if root else None
            if rel:
                self._walk(f"{AREA_DIR}/{rel}", what="the course folder")
            inside = mountpaths.relative_to(bind["bind"], home_inside) if home_inside else None
            if inside:
                self._walk(f"{self.user.name}/{inside}", what="the course folder")

    def _check_mount_sources(self) -> None:
        """Every mount source, resolved without following a link, just before the
        service is made: a folder a user replaced by a link since it was made
        (staff in the exchange, a student in their home) refuses the spawn."""
        host = self.homes_host_dir.rstrip("/")
        if not host:
            return  # no homes configured (a spawner outside a deployment)
        for source in self.volume_binds:
            rel = mountpaths.relative_to(source, host)
            if rel is None or not rel:
                self._refuse(
                    "Your server cannot start: one of its folders is outside the homes. "
                    "Please tell your instructor."
                )
            self._walk(rel, create=False, what="the folder")

    def _walk(self, relative: str, mode: int = 0o755, create: bool = True, what: str = "") -> None:
        """`relative` under the homes as the hub sees them, made if missing,
        refused with one line if any part of it is a link or not a folder."""
        try:
            mountpaths.ensure_dirs(
                self.homes_hub_dir, relative, self.home_uid, create=create, mode=mode
            )
        except mountpaths.Unsafe as exc:
            self.log.warning("refusing the server of %s: %s", self.user.name, exc)
            self._refuse(
                f"Your server cannot start: {what} {exc.shown} cannot be made or used "
                f"(it {exc.why}). Move it away, or ask your instructor."
            )
        except OSError as exc:
            self._refuse(
                f"Your server cannot start: {what} {relative} cannot be made "
                f"({exc.strerror}). Please tell your instructor."
            )

    def _refuse_over_quota(self) -> None:
        from swarmhub.hub import quota

        try:
            verdict = quota.check(self._home(), self.config_quota())
        finally:
            self._quota_checked = True
        self._quota_verdict = verdict
        if verdict and verdict.over_hard:
            self._refuse(verdict.message, 403)
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
                yield {"progress": 20, "message": self._room_message}
            await asyncio.sleep(0.1)
        async for event in super().progress():
            yield event
        # Running, not answering yet: on a node busy with a class's starts this
        # can take a minute; say so rather than leave the page silent.
        told = False
        while self._answering:
            if not told and self._waited_for_answer() > self.slow_answer:
                told = True
                yield {
                    "progress": 80,
                    "message": "Your server is running and still starting up "
                    "(the node is busy with other starts): it will answer shortly.",
                }
            await asyncio.sleep(0.2)

    def config_quota(self):
        from swarmhub.config import QuotaConfig

        return self.quota if self.quota is not None else QuotaConfig()

    # --- packing -------------------------------------------------------------

    _waiting_for_room = False
    _room_message = ""
    _started_at = 0.0

    async def _wait_for_room(self) -> str | None:
        """The node this server goes to; while no node has room, wait for one.

        The server's service is only created once a node fits it, and then pinned
        there. Leaving it to the swarm instead (a task pending for resources) is
        not enough: Swarm does not reliably look at a pending task again when a
        new node joins, and the server can sit pending until the start timeout.
        While we wait the hub shows the server as starting, which the autoscaler
        counts as demand; the spawn page says what the wait is for. A server
        bigger than any node is refused at once (503), and so is one still
        without room shortly before start_timeout.
        """
        from swarmhub.hub import placement

        mem, cpu = self.mem_guarantee or 0, self.cpu_guarantee or 0
        loop = asyncio.get_running_loop()
        give_up = loop.time() + max(1.0, self._time_left())
        while True:
            asked = self.executor.submit(
                placement.choose, self.client, mem, cpu, self.service_name, self.image
            )
            try:
                node_id = await asyncio.wrap_future(asked)
            except asyncio.CancelledError:
                # The thread still finishes and may hold room for us: let it go then.
                asked.add_done_callback(lambda _: placement.LEDGER.release(self.service_name))
                raise
            except Exception:
                # Packing is an optimisation: if it fails, the swarm places the server.
                self.log.exception("packing failed; leaving placement to the swarm")
                return None
            if node_id is not None:
                self._waiting_for_room = False
                return node_id
            if not self._waiting_for_room:
                capacity = placement.LEDGER.capacity()
                if capacity.workers and (mem > capacity.mem or cpu > capacity.cpu + 1e-9):
                    self._refuse(
                        f"Your server needs {_gib(mem)} and {cpu:g} CPU, more than a whole "
                        f"node has ({_gib(capacity.mem)}, {capacity.cpu:g} CPU): "
                        "ask your instructor for a smaller profile."
                    )
                self._room_message = self._why_no_room(capacity.workers)
                self._waiting_for_room = True
                self.log.info("%s's server (%s, %g CPU): %s", self.user.name, _gib(mem), cpu,
                              self._room_message)  # fmt: skip
            if loop.time() >= give_up:
                self._waiting_for_room = False
                self._refuse(
                    f"No worker node had room for a server of {_gib(mem)} and {cpu:g} CPU "
                    f"within {self.start_timeout} s: {self._room_message} "
                    "Please try again in a few minutes."
                )
            await asyncio.sleep(self.room_poll)

    def _why_no_room(self, workers: int) -> str:
        """What the student waits for, on the spawn page."""
        if not self.autoscaling:
            return "Every node is full: your server starts when someone else's stops."
        if workers >= self.max_nodes:
            return (
                f"Every node is full and the hub is at its largest ({self.max_nodes} "
                "nodes): your server starts when someone else's stops."
            )
        return "Every node is full: a new one is starting, your server will start on it."

    def _refuse(self, message: str, status: int = 503):
        err = web.HTTPError(status, message)
        err.jupyterhub_message = message  # shown as is on the spawn page and in the API
        raise err


def _published_port(task: dict, target: int) -> int | None:
    """The port `task`'s node publishes `target` on (host mode), if any."""
    ports = ((task.get("Status") or {}).get("PortStatus") or {}).get("Ports") or []
    for port in ports:
        if port.get("TargetPort") == target and port.get("PublishMode") == "host":
            return port.get("PublishedPort") or None
    return None


def _node_address(node: dict) -> str | None:
    """The address a node is reached at: the one it advertises to the swarm.

    A manager may report 0.0.0.0 there; its manager address says it then.
    """
    address = (node.get("Status") or {}).get("Addr") or ""
    if not _reachable(address):
        manager = (node.get("ManagerStatus") or {}).get("Addr") or ""
        address = manager.rsplit(":", 1)[0]
    return address if _reachable(address) else None


def _reachable(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return not (ip.is_unspecified or ip.is_loopback)


async def _answers(client, url: str, request_timeout: float = 2) -> bool:
    """Whether the server at `url` answers HTTP: any answer below 500 (even a
    404) counts, as it does for the hub's own check."""
    from tornado.httpclient import HTTPClientError

    try:
        await client.fetch(
            url, follow_redirects=False, connect_timeout=1, request_timeout=request_timeout
        )
        return True
    except HTTPClientError as exc:
        return exc.code < 500
    except OSError:
        return False  # not listening, or not reachable yet
