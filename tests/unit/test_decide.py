"""decide(): tables of cases; the builders here are shared by the other autoscaler tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from swarmhub.autoscaler.decide import decide, utcnow
from swarmhub.autoscaler.model import Node, Plan, Resources, Server, State
from swarmhub.config.autoscaler import AutoscalerConfig, BusyWindow

GIB = 1024**3
SHAPE = Resources(mem=8 * GIB, cpu=4.0)  # 4 slots of SLOT, memory-bound
SLOT = Resources(mem=2 * GIB, cpu=0.5)
NOW = datetime(2025, 3, 26, 10, 0, tzinfo=UTC)


def cfg(**kw) -> AutoscalerConfig:
    base = dict(
        min_nodes=0,
        max_nodes=10,
        headroom_slots=0,
        scale_in_cooldown=600,
        scale_out_cooldown=60,
        node_boot_seconds=120,
        early_seconds=0,
    )
    base.update(kw)
    return AutoscalerConfig(**base)


def node(
    node_id: str,
    servers: int = 0,
    *,
    ready: bool = True,
    empty_min: float | None = None,
    protected: bool = False,
    draining: bool = False,
) -> Node:
    """A node of SHAPE with `servers` running user servers of SLOT size; an empty
    node has been empty for `empty_min` minutes (default: a day)."""
    empty_since = None
    if servers == 0:
        empty_since = NOW - timedelta(minutes=1440 if empty_min is None else empty_min)
    return Node(
        id=node_id,
        ready=ready,
        mem_total=SHAPE.mem,
        cpu_total=SHAPE.cpu,
        mem_reserved=servers * SLOT.mem,
        cpu_reserved=servers * SLOT.cpu,
        user_servers=servers,
        empty_since=empty_since,
        protected=protected,
        draining=draining,
    )


def running(nodes: list[Node]) -> list[Server]:
    return [
        Server(f"{n.id}-u{i}", n.id, False, SLOT.mem, SLOT.cpu)
        for n in nodes
        for i in range(n.user_servers)
    ]


def pending(count: int, prefix: str = "p") -> list[Server]:
    return [Server(f"{prefix}{i}", None, True, SLOT.mem, SLOT.cpu) for i in range(count)]


def state(
    nodes: list[Node],
    unplaced: int = 0,
    *,
    pending_requests: int = 0,
    last_scale_out: datetime | None = None,
    config: AutoscalerConfig | None = None,
    extra_servers: list[Server] = (),
) -> State:
    return State(
        nodes=tuple(nodes),
        servers=tuple(running(nodes) + pending(unplaced) + list(extra_servers)),
        pending_requests=pending_requests,
        last_scale_out=last_scale_out,
        node_shape=SHAPE,
        slot=SLOT,
        config=config or cfg(),
    )


def after(s: State, plan: Plan, now: datetime) -> State:
    """The state once `plan` is carried out and nothing else happened: drained
    nodes gone, new nodes requested (booting), protection flags set."""
    gone = set(plan.drain)
    nodes = tuple(
        replace(n, protected=(n.id in plan.protect) or (n.protected and n.id not in plan.unprotect))
        for n in s.nodes
        if n.id not in gone
    )
    joined = len(nodes)
    pending_requests = max(s.pending_requests, plan.desired - joined)
    raised = joined + pending_requests > len(s.nodes) + s.pending_requests
    return replace(
        s,
        nodes=nodes,
        pending_requests=pending_requests,
        last_scale_out=now if raised else s.last_scale_out,
    )


# --- scale out for pending servers -------------------------------------------
# (nodes, unplaced servers, pending_requests, expected desired, action)
SCALE_OUT = [
    pytest.param([node("a", 4)], 3, 0, 2, "scale_out", id="full-node-3-pending-1-more"),
    pytest.param([node("a", 4)], 5, 0, 3, "scale_out", id="5-pending-need-2-nodes"),
    pytest.param([node("a", 4)], 8, 0, 3, "scale_out", id="8-pending-pack-exactly-2"),
    pytest.param([node("a", 2)], 2, 0, 1, "steady", id="pending-fit-in-free-room"),
    pytest.param([node("a", 2)], 3, 0, 2, "scale_out", id="one-overflows"),
    pytest.param([node("a", 4)], 3, 1, 2, "steady", id="in-flight-node-counted"),
    pytest.param([node("a", 4)], 6, 1, 3, "scale_out", id="in-flight-plus-one"),
    pytest.param([], 1, 0, 1, "scale_out", id="from-zero"),
]


@pytest.mark.parametrize("nodes, unplaced, in_flight, desired, action", SCALE_OUT)
def test_scale_out_for_pending_servers(nodes, unplaced, in_flight, desired, action):
    plan = decide(state(nodes, unplaced, pending_requests=in_flight), NOW)
    assert (plan.desired, plan.action) == (desired, action)
    assert plan.drain == ()


def test_scale_out_reason_is_one_line_naming_the_shortfall():
    plan = decide(state([node("a", 4)], 3), NOW)
    assert plan.reason == "scale out 1 -> 2: 3 pending servers need 6 GiB more than free"
    assert "\n" not in plan.reason


def test_pending_server_larger_than_a_node_does_not_scale():
    huge = Server("big", None, True, 3 * SHAPE.mem, 1.0)
    plan = decide(state([node("a", 1)], extra_servers=[huge]), NOW)
    assert plan.desired == 1
    assert "larger than a node" in plan.reason


def test_pending_servers_within_scale_out_cooldown_still_scale():
    # A waiting student is never held back by the cooldown; in-flight nodes are
    # already counted through pending_requests.
    plan = decide(state([node("a", 4)], 2, last_scale_out=NOW - timedelta(seconds=5)), NOW)
    assert plan.desired == 2


# --- headroom ---------------------------------------------------------------
# (nodes, pending_requests, headroom, last scale-out seconds ago, desired, action)
HEADROOM = [
    pytest.param([node("a", 3)], 0, 2, None, 2, "scale_out", id="1-free-wants-2"),
    pytest.param([node("a", 2)], 0, 2, None, 1, "steady", id="2-free-enough"),
    pytest.param([node("a", 4)], 1, 2, None, 1 + 1, "steady", id="booting-node-counts"),
    pytest.param([node("a", 4)], 0, 9, None, 4, "scale_out", id="9-slots-3-nodes-more"),
    pytest.param([], 0, 2, None, 0, "steady", id="nobody-here-no-headroom"),
    pytest.param([node("a", empty_min=1)], 0, 9, None, 1, "steady", id="nobody-here-nothing-added"),
    pytest.param([node("a", 4)], 0, 2, 30, 1, "hold", id="held-in-cooldown"),
    pytest.param([node("a", 4)], 0, 2, 61, 2, "scale_out", id="after-cooldown"),
]


@pytest.mark.parametrize("nodes, in_flight, headroom, ago, desired, action", HEADROOM)
def test_headroom(nodes, in_flight, headroom, ago, desired, action):
    last = None if ago is None else NOW - timedelta(seconds=ago)
    s = state(
        nodes, pending_requests=in_flight, last_scale_out=last, config=cfg(headroom_slots=headroom)
    )
    plan = decide(s, NOW)
    assert (plan.desired, plan.action) == (desired, action)


# --- schedule, ahead of time, in Europe/Berlin across DST -------------------
LAB = BusyWindow(days=["tue"], start="14:00", end="17:00", timezone="Europe/Berlin", min_nodes=6)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# Berlin is UTC+1 until 2025-03-30 and UTC+2 after; boot time (lead) 120 s.
SCHEDULE = [
    pytest.param(utc(2025, 3, 25, 12, 57, 59), 0, id="winter-before-lead"),
    pytest.param(utc(2025, 3, 25, 12, 58, 0), 6, id="winter-lead-starts-13:58Z"),
    pytest.param(utc(2025, 3, 25, 15, 59, 59), 6, id="winter-last-second"),
    pytest.param(utc(2025, 3, 25, 16, 0, 0), 0, id="winter-end-exclusive"),
    pytest.param(utc(2025, 4, 1, 11, 57, 59), 0, id="summer-before-lead"),
    pytest.param(utc(2025, 4, 1, 11, 58, 0), 6, id="summer-lead-starts-11:58Z"),
    pytest.param(utc(2025, 4, 1, 12, 58, 0), 6, id="summer-inside"),
    pytest.param(utc(2025, 4, 1, 15, 0, 0), 0, id="summer-end-17:00-local"),
    pytest.param(utc(2025, 4, 2, 12, 30, 0), 0, id="wednesday"),
]


@pytest.mark.parametrize("now, expected", SCHEDULE)
def test_schedule_window_ahead_of_time_across_dst(now, expected):
    s = state([], config=cfg(schedule=[LAB], node_boot_seconds=120))
    plan = decide(s, now)
    assert plan.desired == expected
    if expected:
        assert plan.reason == "scale out 0 -> 6: schedule tue 14:00-17:00 Europe/Berlin needs 6"


def test_students_come_early_a_window_is_ready_early_seconds_before_it():
    # boot 120 s + early 600 s: asked for at 13:48 local (12:48Z in winter)
    s = state([], config=cfg(schedule=[LAB], node_boot_seconds=120, early_seconds=600))
    assert decide(s, utc(2025, 3, 25, 12, 47, 59)).desired == 0
    assert decide(s, utc(2025, 3, 25, 12, 48, 0)).desired == 6
    assert AutoscalerConfig().early_seconds == 600  # the default


def test_schedule_floor_keeps_empty_nodes_from_draining():
    nodes = [node(f"n{i}") for i in range(6)]
    s = state(nodes, config=cfg(schedule=[LAB]))
    plan = decide(s, utc(2025, 4, 1, 13, 0))
    assert plan.drain == () and plan.desired == 6


def test_window_past_midnight():
    late = BusyWindow(
        days=["fri"], start="22:00", end="02:00", timezone="UTC", min_nodes=2, overnight=True
    )
    s = state([], config=cfg(schedule=[late], node_boot_seconds=0))
    assert decide(s, utc(2025, 3, 29, 1, 0)).desired == 2  # Saturday 01:00
    assert decide(s, utc(2025, 3, 29, 2, 0)).desired == 0


# --- min/max clamps ---------------------------------------------------------
# (nodes, unplaced, config, desired, action)
CLAMPS = [
    pytest.param([], 0, cfg(min_nodes=2), 2, "scale_out", id="up-to-min"),
    pytest.param([node("a"), node("b")], 0, cfg(min_nodes=2), 2, "steady", id="min-kept"),
    pytest.param([node("a", 4)], 10, cfg(max_nodes=3), 3, "scale_out", id="capped-at-max"),
    pytest.param(
        [node(f"n{i}", 4) for i in range(3)], 2, cfg(max_nodes=3), 3, "at_max", id="at-max"
    ),
    pytest.param(
        [node("a", 1)], 0, cfg(headroom_slots=40, max_nodes=4), 4, "scale_out", id="headroom-capped"
    ),
]


@pytest.mark.parametrize("nodes, unplaced, config, desired, action", CLAMPS)
def test_min_max_clamps(nodes, unplaced, config, desired, action):
    plan = decide(state(nodes, unplaced, config=config), NOW)
    assert (plan.desired, plan.action) == (desired, action)


def test_over_max_is_clamped_without_draining_users():
    nodes = [node(f"n{i}", 1) for i in range(5)]
    plan = decide(state(nodes, config=cfg(max_nodes=3)), NOW)
    assert plan.desired == 3
    assert plan.drain == ()


# --- scale-in only after the cooldown ---------------------------------------
# (nodes, config, drained)
SCALE_IN = [
    pytest.param([node("a", 1), node("b", empty_min=5)], cfg(), (), id="empty-5-min-kept"),
    pytest.param([node("a", 1), node("b", empty_min=11)], cfg(), ("b",), id="empty-11-min-drained"),
    pytest.param(
        [node("a", empty_min=20), node("b", empty_min=30)],
        cfg(min_nodes=1),
        ("b",),
        id="longest-empty-first-down-to-min",
    ),
    pytest.param(
        [node("a", 3), node("b", empty_min=30)],
        cfg(headroom_slots=2),
        (),
        id="headroom-needs-it",
    ),
    pytest.param(
        [node("a", 2), node("b", empty_min=30)],
        cfg(headroom_slots=2),
        ("b",),
        id="headroom-met-without-it",
    ),
    pytest.param(
        [node("a", 4), node("b", empty_min=30, draining=True)],
        cfg(min_nodes=1),
        ("b",),
        id="retry-removal-of-empty-draining-node",
    ),
    pytest.param([node("a", empty_min=30, ready=False)], cfg(), ("a",), id="not-ready-empty"),
]


@pytest.mark.parametrize("nodes, config, drained", SCALE_IN)
def test_scale_in_only_after_cooldown(nodes, config, drained):
    plan = decide(state(nodes, config=config), NOW)
    assert plan.drain == drained
    assert plan.desired == len(nodes) - len(drained) + (
        max(0, config.min_nodes - len(nodes)) if not drained else 0
    )
    if drained:
        assert plan.action == "scale_in" and plan.reason.startswith("scale in ")


def test_no_scale_in_while_scaling_out():
    plan = decide(state([node("a", 4), node("b", empty_min=60)], 5), NOW)
    assert plan.drain == ()
    assert plan.desired > 2


def test_pending_server_packed_onto_empty_node_keeps_it():
    plan = decide(state([node("a", empty_min=60)], 1), NOW)
    assert plan.drain == () and plan.desired == 1


# --- never drain a node with a server ---------------------------------------
SERVER_NODES = [
    pytest.param(node("a", 1), [], id="running-server"),
    pytest.param(
        replace(node("a"), user_servers=0),
        [Server("late", "a", True, SLOT.mem, SLOT.cpu)],
        id="assigned-pending-server-not-yet-counted",
    ),
    pytest.param(
        replace(node("a", 1), empty_since=NOW - timedelta(hours=5)), [], id="stale-empty-since"
    ),
    pytest.param(node("a", 1, draining=True), [], id="draining-node-with-user"),
]


@pytest.mark.parametrize("n, extra", SERVER_NODES)
def test_never_drains_a_node_with_a_server(n, extra):
    s = State(
        nodes=(n,),
        servers=tuple(running([n]) + extra),
        pending_requests=0,
        last_scale_out=None,
        node_shape=SHAPE,
        slot=SLOT,
        config=cfg(scale_in_cooldown=0),
    )
    plan = decide(s, NOW)
    assert "a" in plan.protect
    assert "a" not in plan.drain
    assert "a" not in plan.unprotect


def test_unprotects_only_empty_protected_nodes():
    nodes = [node("a", 1, protected=True), node("b", protected=True, empty_min=1), node("c")]
    plan = decide(state(nodes), NOW)
    assert plan.protect == {"a"}
    assert plan.unprotect == {"b"}


# --- steady state is idempotent ---------------------------------------------
def test_steady_state_idempotent():
    nodes = [node("a", 3, protected=True), node("b", 1, protected=True), node("c", empty_min=2)]
    s = state(nodes, config=cfg(headroom_slots=2, min_nodes=1))
    first = decide(s, NOW)
    assert first.action == "steady"
    assert first.reason == "steady: 3 nodes, 8 free slots"
    assert first.desired == 3 and first.drain == ()
    again = decide(after(s, first, NOW), NOW)
    assert again == first


def test_plan_then_decide_again_adds_nothing():
    s = state([node("a", 4)], 7, config=cfg(headroom_slots=2))
    first = decide(s, NOW)
    assert first.desired == 4  # 7 pending + 2 headroom = 9 slots -> 3 more nodes
    again = decide(after(s, first, NOW), NOW)
    assert again.desired == first.desired
    assert again.action == "steady"


def test_naive_datetime_refused():
    with pytest.raises(ValueError, match="aware"):
        decide(state([]), datetime(2025, 1, 1))


def test_utcnow_is_aware():
    assert utcnow().tzinfo is not None
