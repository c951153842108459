"""The lifecycle handler's steps: what to do for each ASG lifecycle message.

Shaped like aws-node-termination-handler's queue mode, for a swarm:

- terminate: find the instance's swarm node, drain it, wait (heartbeating the
  lifecycle action, within `drain_timeout`) until no user server runs there,
  `docker node rm --force`, delete its Chef node and client, CONTINUE;
- launch: CONTINUE once the node is a Ready swarm member that can start the
  notebook image without a pull; ABANDON after `launch_timeout`. A node from
  another AMI than the manager's (a fleet half-way through an upgrade: new
  workers come from the new launch template, the manager is replaced on its
  own) carries another bake's images, so the manager's image is no test of
  it: it is admitted once Ready;
- test notifications, other groups' events and unreadable messages are dropped.

A message is deleted only after its work is done, and kept invisible while it
is worked on, so a handler killed mid-job gets it back and finishes it. Every
step is idempotent: a node already drained or gone, a Chef node already
deleted, an action already completed are all fine.

I/O goes through the protocols in interfaces.py; time through the injected
`clock` (epoch seconds) and `sleep`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from swarmhub.config.lifecycle import LifecycleConfig
from swarmhub.errors import SwarmhubError
from swarmhub.lifecycle.interfaces import Asg, Chef, Instances, Queue, Received, Swarm, SwarmNode
from swarmhub.lifecycle.messages import (
    LAUNCHING,
    LifecycleEvent,
    TestNotification,
    Unrecognised,
    parse,
)

log = logging.getLogger("swarmhub.lifecycle")

CONTINUE = "CONTINUE"
ABANDON = "ABANDON"
# SQS long polling: the longest wait it allows, and the cheapest.
WAIT_SECONDS = 20


class Stopping(Exception):  # noqa: N818  (a signal, not an error)
    """Raised by the injected sleep when the service is shutting down: the job is
    left unfinished and its message comes back after the visibility timeout."""


def interruptible_sleep(stop: threading.Event) -> Callable[[float], None]:
    """A sleep that raises Stopping as soon as `stop` is set."""

    def sleep(seconds: float) -> None:
        if stop.wait(seconds):
            raise Stopping

    return sleep


class _Keepalive:
    """While a message is worked on: heartbeat its lifecycle action and keep the
    message invisible, every `heartbeat_interval`."""

    def __init__(self, handler: Handler, event: LifecycleEvent, receipt: str):
        self._h = handler
        self._event = event
        self._receipt = receipt
        self._last = handler.clock()
        self._heartbeats = True

    def tick(self) -> None:
        cfg = self._h.config
        now = self._h.clock()
        if now - self._last < cfg.heartbeat_interval:
            return
        self._last = now
        if self._heartbeats:
            # Like NTH: once the action is no longer pending, stop sending them.
            self._heartbeats = self._h.asg.heartbeat(self._event.action)
        self._h.queue.extend(self._receipt, cfg.visibility_timeout)


class Handler:
    def __init__(
        self,
        *,
        config: LifecycleConfig,
        asg_name: str,
        queue: Queue,
        asg: Asg,
        swarm: Swarm,
        instances: Instances,
        chef: Chef | None = None,
        notebook_image: str | None = None,
        ami_id: str | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.config = config
        self.asg_name = asg_name
        self.queue = queue
        self.asg = asg
        self.swarm = swarm
        self.instances = instances
        self.chef = chef if config.chef_enrollment else None
        self.notebook_image = notebook_image
        # The AMI notebook_image was baked into (the manager's own).
        self.ami_id = ami_id
        self.clock = clock
        self.sleep = sleep

    # -- messages ----------------------------------------------------------

    def receive(self, wait_seconds: int = WAIT_SECONDS, limit: int = 10) -> list[Received]:
        return self.queue.receive(
            wait_seconds=wait_seconds, visibility=self.config.visibility_timeout, limit=limit
        )

    def process_once(self, wait_seconds: int = WAIT_SECONDS) -> int:
        """Receive once and handle what came, one after the other (tests, one-shot runs)."""
        received = self.receive(wait_seconds)
        for message in received:
            self.handle(message)
        return len(received)

    def handle(self, received: Received) -> None:
        """Do what one message asks, then delete it. An exception leaves it on the
        queue: it comes back after the visibility timeout and is done again."""
        message = parse(received.body)
        if isinstance(message, TestNotification):
            log.info("test notification from group %s: nothing to do", message.asg_name)
        elif isinstance(message, Unrecognised):
            # Deleted, not retried: it would come back forever. Logged whole so
            # nothing is lost.
            log.warning(
                "dropping message %s (%s): %s",
                received.message_id,
                message.reason,
                received.body[:2000],
            )
        elif message.asg_name != self.asg_name:
            log.warning(
                "dropping an event of group %s (this handler serves %s)",
                message.asg_name,
                self.asg_name,
            )
        else:
            keep = _Keepalive(self, message, received.receipt)
            if message.transition == LAUNCHING:
                self.launch(message, keep)
            else:
                self.terminate(message, keep)
        self.queue.delete(received.receipt)

    def _started(self, event: LifecycleEvent) -> float:
        """When the wait began: the event's time, so a redelivered message keeps
        its original deadline instead of starting the clock again."""
        now = self.clock()
        return min(event.time.timestamp(), now) if event.time else now

    def _find(self, instance_id: str) -> SwarmNode | None:
        node = self.swarm.find_node(instance_id)
        if node is None:
            # An engine without the label (an older image): match its host name.
            hostname = self.instances.hostname(instance_id)
            if hostname:
                node = self.swarm.find_node(instance_id, hostname)
        return node

    # -- terminate ---------------------------------------------------------

    def terminate(self, event: LifecycleEvent, keep: _Keepalive) -> None:
        instance = event.instance_id
        node = self._find(instance)
        if node is None:
            log.info("terminating %s: no swarm node (already removed)", instance)
        else:
            self._drain(event, node, keep)
            self.swarm.remove(node.id)
            log.info("terminating %s: removed swarm node %s (%s)", instance, node.id, node.hostname)
        self._forget_in_chef(instance)
        self.asg.complete(event.action, CONTINUE)
        log.info("terminating %s: lifecycle action completed (CONTINUE)", instance)

    def _drain(self, event: LifecycleEvent, node: SwarmNode, keep: _Keepalive) -> None:
        instance = event.instance_id
        users = self.swarm.user_servers(node.id)
        if users and node.availability != "drain":
            # The autoscaler never scales in a busy node; a spot interruption or a
            # manual termination can still land here. Either way: say so, loudly.
            log.error(
                "terminating %s (node %s) evicts the running servers of %s: if the "
                "autoscaler chose this node, that is a bug in it",
                instance,
                node.hostname,
                ", ".join(users),
            )
        self.swarm.drain(node.id)
        if node.state != "ready":
            # Its engine is not reporting: its tasks stay "running" in the swarm's
            # books however long we wait, and the machine is going away.
            log.warning(
                "terminating %s: node %s is %s, not waiting for its tasks",
                instance,
                node.hostname,
                node.state,
            )
            return
        deadline = self._started(event) + self.config.drain_timeout
        while users:
            if self.clock() >= deadline:
                log.error(
                    "terminating %s: servers of %s still on node %s after %ss; removing it anyway",
                    instance,
                    ", ".join(users),
                    node.hostname,
                    self.config.drain_timeout,
                )
                return
            keep.tick()
            self.sleep(self.config.poll_interval)
            users = self.swarm.user_servers(node.id)

    def _forget_in_chef(self, instance: str) -> None:
        if self.chef is None:
            return
        try:
            node = self.chef.delete_node(instance)
            client = self.chef.delete_client(instance)
        except SwarmhubError as exc:
            # The instance goes either way; the reconciler retries the Chef side.
            log.error(
                "terminating %s: Chef Server cleanup failed, left to the reconciler: %s",
                instance,
                exc,
            )
            return
        log.info(
            "terminating %s: Chef node %s, client %s",
            instance,
            "deleted" if node else "absent",
            "deleted" if client else "absent",
        )

    # -- launch ------------------------------------------------------------

    def launch(self, event: LifecycleEvent, keep: _Keepalive) -> None:
        instance = event.instance_id
        if event.destination == "WarmPool":
            # Into a warm pool, stopped: it takes no users yet, nothing to wait for.
            self.asg.complete(event.action, CONTINUE)
            return
        deadline = self._started(event) + self.config.launch_timeout
        while True:
            node = self._find(instance)
            if node is not None and node.ready and self._can_run_notebooks(node, instance):
                self.asg.complete(event.action, CONTINUE)
                log.info("launching %s: node %s is ready (CONTINUE)", instance, node.hostname)
                return
            if self.clock() >= deadline:
                state = "no swarm node" if node is None else f"node {node.hostname} {node.state}"
                log.error(
                    "launching %s: not ready after %ss (%s): ABANDON",
                    instance,
                    self.config.launch_timeout,
                    state,
                )
                self.asg.complete(event.action, ABANDON)
                return
            keep.tick()
            self.sleep(self.config.poll_interval)

    def _can_run_notebooks(self, node: SwarmNode, instance: str) -> bool:
        if self.notebook_image is None:
            return True
        if self.ami_id:  # unknown ("" or None): probe, as before
            theirs = self.instances.image_id(instance)
            if theirs is not None and theirs != self.ami_id:
                log.info(
                    "launching %s: AMI %s, the manager's is %s: another bake's images, "
                    "admitted without the manager's image probe",
                    instance,
                    theirs,
                    self.ami_id,
                )
                return True
        return self.swarm.image_ready(node.id, self.notebook_image)

    # -- reconcile ---------------------------------------------------------

    def reconcile(self) -> None:
        """Remove Down swarm workers and Chef nodes whose instance no longer exists."""
        nodes = self.swarm.nodes()
        down = [n for n in nodes if n.state == "down" and n.role == "worker" and n.instance_id]
        live = {n.instance_id for n in nodes if n.state == "ready" and n.instance_id}
        chef_names = []
        if self.chef is not None:
            # Only names that are instance ids: the Chef Server may hold other nodes.
            chef_names = [n for n in self.chef.list_nodes() if _looks_like_instance_id(n)]
        asked = {n.instance_id for n in down} | set(chef_names) | live
        if not asked:
            return
        gone = self.instances.gone(asked)
        if live & gone:
            # EC2 cannot see instances that are in the swarm right now: wrong
            # region or account. Acting on that view would delete healthy nodes.
            log.error(
                "reconcile skipped: EC2 does not know running swarm nodes %s "
                "(wrong region or account?)",
                ", ".join(sorted(live & gone)),
            )
            return
        for node in down:
            if node.instance_id in gone:
                log.info(
                    "reconcile: removing down node %s of gone instance %s",
                    node.hostname,
                    node.instance_id,
                )
                self.swarm.remove(node.id)
        for name in chef_names:
            if name in gone:
                log.info("reconcile: deleting Chef node and client of gone instance %s", name)
                self.chef.delete_node(name)
                self.chef.delete_client(name)

    # -- the service loop --------------------------------------------------

    def serve(
        self, stop: threading.Event, *, workers: int = 8, wait_seconds: int = WAIT_SECONDS
    ) -> None:
        """Poll, handle messages in parallel (a launch may wait minutes; the others
        must not wait behind it), reconcile every `reconcile_interval`."""
        inflight: dict[str, Future] = {}
        next_reconcile = self.clock()
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lifecycle") as pool:
            while not stop.is_set():
                if self.clock() >= next_reconcile:
                    try:
                        self.reconcile()
                    except Exception:
                        log.exception(
                            "reconcile failed; next try in %ss", self.config.reconcile_interval
                        )
                    next_reconcile = self.clock() + self.config.reconcile_interval
                for key in [k for k, f in inflight.items() if f.done()]:
                    del inflight[key]
                free = workers - len(inflight)
                if free <= 0:
                    stop.wait(1)
                    continue
                try:
                    received = self.receive(wait_seconds, limit=min(10, free))
                except Exception:
                    log.exception("receiving from the lifecycle queue failed")
                    stop.wait(5)
                    continue
                for message in received:
                    # A duplicate delivery of a message still being worked on.
                    if message.message_id not in inflight:
                        inflight[message.message_id] = pool.submit(self._handle_logged, message)

    def _handle_logged(self, received: Received) -> None:
        try:
            self.handle(received)
        except Stopping:
            log.info("stopping: message %s left for the next handler", received.message_id)
        except Exception:
            log.exception(
                "message %s failed; it comes back after %ss",
                received.message_id,
                self.config.visibility_timeout,
            )


def _looks_like_instance_id(name: str) -> bool:
    head, _, tail = name.partition("-")
    return head == "i" and len(tail) in (8, 17) and all(c in "0123456789abcdef" for c in tail)
