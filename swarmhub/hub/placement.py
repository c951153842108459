"""Where the spawner puts a new server: the fullest worker that still fits it.

The rule is the one capacity model's (swarmhub.capacity.choose_node), the
same the autoscaler and the simulator use; this adds what concurrent spawns
need: a ledger of placements the swarm does not show yet.

And only on a node that has the server's image. On AWS the hub names its
images by id (no node ever pulls), and during an upgrade workers of two
bakes, with different images, serve side by side (decision 0010). Each
worker's engine carries the label `swarmhub.image.sha256-<hex>=true` for
every image its AMI was baked with (swarmhub-engine-label, from
/etc/swarmhub/images.json, at every boot, before dockerd starts).
`image_constraints` says that to the swarm; `Ledger.choose(image=...)`
packs only onto such nodes. An image named by tag (the local target, whose
nodes are loaded from the hub's own engine) carries no constraint.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time

from swarmhub.capacity import choose_node
from swarmhub.swarm.state import NodeUsage, snapshot

# The engine label of a baked image; the host-side twin is in
# cookbooks/swarmhub_worker/files/swarmhub-engine-label (stdlib only there).
IMAGE_LABEL_PREFIX = "swarmhub.image."
_IMAGE_ID = re.compile(r"^sha256:([0-9a-f]{64})$")


def image_label(image: str) -> str | None:
    """The engine label key of a node baked with `image`, if `image` is an id."""
    match = _IMAGE_ID.match(image)
    return f"{IMAGE_LABEL_PREFIX}sha256-{match.group(1)}" if match else None


def image_constraints(image: str) -> list[str]:
    """Swarm placement constraints that keep a server named by image id off the
    nodes of another bake; none for an image named by tag."""
    label = image_label(image)
    return [f"engine.labels.{label}==true"] if label else []


def carries(node: dict, image: str) -> bool:
    """Whether a node (an item of the Docker API's node list) has `image`:
    always for a tag, by its engine label for an id."""
    label = image_label(image)
    if label is None:
        return True
    engine = node.get("Description", {}).get("Engine", {}) or {}
    return (engine.get("Labels") or {}).get(label) == "true"


@dataclasses.dataclass(frozen=True)
class Capacity:
    workers: int
    mem: int  # the largest worker's memory
    cpu: float  # and CPUs


def _capacity_of(workers: list[NodeUsage]) -> Capacity:
    sized = [n for n in workers if n.mem_total > 0]
    return Capacity(
        len(sized),
        max((n.mem_total for n in sized), default=0),
        max((n.cpu_total for n in sized), default=0.0),
    )


class Ledger:
    """Reservations placed in the last moments, not yet visible in the swarm.

    Concurrent spawns would otherwise all see the same snapshot and pin
    themselves to the same "fullest" node, where the last ones never fit. A
    placement is counted here until its spawn finishes (or `ttl` passes); if
    the swarm already counts it too, packing is briefly conservative, never
    wrong. Thread-safe: spawners choose from executor threads.

    Spawns waiting for room ask again every second; one swarm snapshot serves
    them all for `max_age` seconds. Every placement is in the ledger, and a
    release (the server now counts in the swarm) drops the cached snapshot, so
    a cached view never hides a placement.
    """

    def __init__(self, ttl: float = 120.0, max_age: float = 1.0):
        self.ttl = ttl
        self.max_age = max_age
        self._lock = threading.Lock()
        self._held: dict[str, tuple[str, int, float, float]] = {}
        self._snapshot: list[NodeUsage] | None = None
        self._nodes: list[dict] = []  # the API's node list of the same moment
        self._snapshot_at = 0.0
        self._capacity = Capacity(0, 0, 0.0)

    def choose(self, api, key: str, mem: int, cpu: float, image: str | None = None) -> str | None:
        """The node for a server of `mem` bytes and `cpu` CPUs (None: no room now);
        with `image`, only among nodes that carry it (see `carries`)."""
        with self._lock:
            now = time.monotonic()
            self._held = {k: v for k, v in self._held.items() if now - v[3] < self.ttl}
            self._held.pop(key, None)  # asking again: the old answer no longer holds
            if self._snapshot is None or now - self._snapshot_at > self.max_age:
                self._snapshot, _ = snapshot(api)
                self._nodes = api.nodes() if image and image_label(image) else []
                self._snapshot_at = now
                # every new snapshot, so an oversized server is refused at once
                self._capacity = _capacity_of(self._snapshot)
            elif image and image_label(image) and not self._nodes:
                self._nodes = api.nodes()
            nodes = [dataclasses.replace(n) for n in self._snapshot]
            if image and image_label(image):
                having = {n["ID"] for n in self._nodes if carries(n, image)}
                nodes = [n for n in nodes if n.id in having]
            for node_id, held_mem, held_cpu, _at in self._held.values():
                for n in nodes:
                    if n.id == node_id:
                        n.mem_reserved += held_mem
                        n.cpu_reserved += held_cpu
            chosen = choose_node(nodes, mem, cpu)
            if chosen:
                self._held[key] = (chosen, mem, cpu, now)
            return chosen

    def capacity(self) -> Capacity:
        """The workers of the latest snapshot: how many, and the largest one's size.
        (No lock: one immutable value, read from the event loop, never blocking it.)"""
        return self._capacity

    def release(self, key: str) -> None:
        with self._lock:
            if self._held.pop(key, None) is not None:
                self._snapshot = None


LEDGER = Ledger()


def choose(api, mem: int, cpu: float, key: str = "", image: str | None = None) -> str | None:
    return LEDGER.choose(api, key or f"anon-{time.monotonic()}", mem, cpu, image)
