"""Where the spawner puts a new server: the fullest worker that still fits it."""

from __future__ import annotations

from swarmhub.hub.swarmstate import NodeUsage, snapshot


def fullest_fit(nodes: list[NodeUsage], mem: int, cpu: float) -> str | None:
    """The ready node with the most reserved memory (then CPU, then id) that fits."""
    fits = [
        n
        for n in nodes
        if n.ready
        and n.mem_total - n.mem_reserved >= mem
        and n.cpu_total - n.cpu_reserved >= cpu - 1e-9
    ]
    if not fits:
        return None
    return max(fits, key=lambda n: (n.mem_reserved, n.cpu_reserved, n.id)).id


def choose(api, mem: int, cpu: float) -> str | None:
    nodes, _ = snapshot(api)
    return fullest_fit(nodes, mem, cpu)
