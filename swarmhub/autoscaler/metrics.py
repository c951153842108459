"""Prometheus metrics and the one log line per decision.

The service loop calls `record(plan, state)` after every `decide()` and serves
`REGISTRY` (e.g. `prometheus_client.start_http_server(port, registry=REGISTRY)`).
A registry of our own keeps these apart from anything else in the process and
lets the tests read exact values.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge

from swarmhub.autoscaler.decide import free_slots
from swarmhub.autoscaler.model import Plan, State

log = logging.getLogger("swarmhub.autoscaler")

REGISTRY = CollectorRegistry(auto_describe=True)
_PREFIX = "swarmhub_autoscaler"

NODES_DESIRED = Gauge(
    f"{_PREFIX}_nodes_desired", "Node count the plan heads for", registry=REGISTRY
)
NODES_READY = Gauge(f"{_PREFIX}_nodes_ready", "Ready, non-draining worker nodes", registry=REGISTRY)
NODES_PENDING = Gauge(
    f"{_PREFIX}_nodes_pending", "Nodes requested that have not joined yet", registry=REGISTRY
)
NODES_DRAINING = Gauge(f"{_PREFIX}_nodes_draining", "Nodes being drained", registry=REGISTRY)
SERVERS_RUNNING = Gauge(
    f"{_PREFIX}_servers_placed", "User servers the swarm has placed", registry=REGISTRY
)
SERVERS_PENDING = Gauge(
    f"{_PREFIX}_servers_pending", "User servers waiting for a node", registry=REGISTRY
)
FREE_SLOTS = Gauge(
    f"{_PREFIX}_free_slots",
    "User servers that would start now without a new node",
    registry=REGISTRY,
)
DECISIONS = Counter(f"{_PREFIX}_decisions", "Decisions by action", ["action"], registry=REGISTRY)
# Every label exists from the start, so a rate() over them never sees a gap.
ACTIONS = ("scale_out", "scale_in", "steady", "hold", "at_max")
for _action in ACTIONS:
    DECISIONS.labels(action=_action)


def summary(plan: Plan, state: State) -> str:
    """The decision as one log line: the numbers, then the plan's reason."""
    ready = sum(1 for n in state.nodes if n.ready and not n.draining)
    pending = sum(1 for s in state.servers if s.node_id is None)
    return (
        f"autoscaler {plan.action}: desired={plan.desired} ready={ready} "
        f"booting={state.pending_requests} pending_servers={pending} "
        f"free_slots={free_slots(state)} | {plan.reason}"
    )


def record(plan: Plan, state: State) -> str:
    """Update the metrics for this decision and log its line (returned too).
    Steady decisions log at DEBUG, so a quiet hub gives a quiet log."""
    NODES_DESIRED.set(plan.desired)
    NODES_READY.set(sum(1 for n in state.nodes if n.ready and not n.draining))
    NODES_PENDING.set(state.pending_requests)
    NODES_DRAINING.set(sum(1 for n in state.nodes if n.draining))
    SERVERS_RUNNING.set(sum(1 for s in state.servers if s.node_id is not None))
    SERVERS_PENDING.set(sum(1 for s in state.servers if s.node_id is None))
    FREE_SLOTS.set(free_slots(state))
    DECISIONS.labels(action=plan.action).inc()
    line = summary(plan, state)
    log.log(logging.DEBUG if plan.action == "steady" else logging.INFO, line)
    return line
