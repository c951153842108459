"""How many addresses the overlay network must hold, and whether a subnet does.

Every user server takes one address on the hub's overlay (endpoint mode dnsrr:
no virtual IP per service), and so does every node that hosts a task on it
(the network's load-balancer endpoint on that node). A subnet too small for the
densest fleet the config allows fails late and far from its cause: the spawn
that finds no free address at the end of term, when the swarm is full. So
`validate` refuses it up front, with the numbers in its line.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable

# The hub, the proxy, the hub's services and the manager's own endpoint, with
# room to spare: what the overlay holds besides user servers and worker nodes.
SYSTEM_ADDRESSES = 16
# Network, broadcast and the gateway are never given to a container.
UNUSABLE = 3


def usable_addresses(subnet: str) -> int:
    return max(0, ipaddress.ip_network(subnet, strict=False).num_addresses - UNUSABLE)


def servers_per_node(node_mem: int, node_cpu: float, sizes: Iterable[tuple[int, float]]) -> int:
    """The most servers one node can hold at the densest of `sizes` (mem bytes,
    CPUs reserved per server): the node fills on whichever runs out first."""
    best = 0
    for mem, cpu in sizes:
        by_mem = node_mem // mem if mem > 0 else math.inf
        by_cpu = math.floor(node_cpu / cpu + 1e-9) if cpu > 0 else math.inf
        fit = min(by_mem, by_cpu)
        best = max(best, 0 if fit == math.inf else int(fit))
    return best


def addresses_needed(max_nodes: int, per_node: int) -> int:
    """Addresses of a full fleet: each node's servers and its own endpoint, and the system's."""
    return max_nodes * (per_node + 1) + SYSTEM_ADDRESSES


def overlay_problem(
    subnet: str, max_nodes: int, node_mem: int, node_cpu: float, sizes: Iterable[tuple[int, float]]
) -> str | None:
    """One line saying why `subnet` cannot hold `max_nodes` full nodes at the
    densest profile, and what would; None when it can."""
    per_node = servers_per_node(node_mem, node_cpu, list(sizes))
    need = addresses_needed(max_nodes, per_node)
    have = usable_addresses(subnet)
    if need <= have:
        return None
    net = ipaddress.ip_network(subnet, strict=False)
    prefix = net.prefixlen
    while prefix > 0 and (2 ** (net.max_prefixlen - prefix) - UNUSABLE) < need:
        prefix -= 1
    fits_nodes = max(0, (have - SYSTEM_ADDRESSES) // (per_node + 1))
    node = f"{node_mem / 2**30:g}G/{node_cpu:g}-CPU"
    return (
        f"{subnet} holds {have:,} addresses, but max_nodes {max_nodes} full {node} nodes "
        f"at the densest profile need {need:,} ({max_nodes} x ({per_node} servers + 1 node "
        f"endpoint) + {SYSTEM_ADDRESSES} for the hub's services): widen it to a /{prefix} "
        f"or lower max_nodes to {fits_nodes}"
    )
