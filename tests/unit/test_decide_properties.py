"""decide(): properties that hold for any state (hypothesis)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from swarmhub.autoscaler.decide import decide, hosting_nodes
from swarmhub.autoscaler.model import Node, Server, State, slots_in
from swarmhub.config.autoscaler import AutoscalerConfig, BusyWindow
from tests.unit.test_decide import GIB, NOW, SHAPE, SLOT, after

SIZES = st.sampled_from([(SLOT.mem, SLOT.cpu), (GIB, 0.25), (3 * GIB, 1.0), (8 * GIB, 0.5)])


@st.composite
def configs(draw, big: bool = False) -> AutoscalerConfig:
    # big: room under max_nodes for any demand the states below can make.
    max_nodes = draw(st.integers(30, 40) if big else st.integers(1, 12))
    min_nodes = draw(st.integers(0, max_nodes))
    schedule = []
    if draw(st.booleans()):
        start = draw(st.sampled_from(["09:00", "11:00", "11:01", "13:00"]))
        schedule = [
            BusyWindow(
                days=["wed"],  # NOW is a Wednesday 10:00 UTC (11:00 in Berlin)
                start=start,
                end="12:00",
                overnight=start > "12:00",  # 13:00-12:00 runs past midnight
                timezone="Europe/Berlin",
                min_nodes=draw(st.integers(0, max_nodes)),
            )
        ]
    return AutoscalerConfig(
        min_nodes=min_nodes,
        max_nodes=max_nodes,
        headroom_slots=draw(st.integers(0, 10)),
        scale_in_cooldown=draw(st.sampled_from([0, 300, 600])),
        scale_out_cooldown=draw(st.sampled_from([0, 60])),
        node_boot_seconds=draw(st.sampled_from([0, 60, 120])),
        schedule=schedule,
    )


@st.composite
def states(draw, big: bool = False) -> State:
    config = draw(configs(big))
    nodes, servers = [], []
    for i in range(draw(st.integers(0, 8))):
        node_id = f"n{i}"
        mem = cpu = 0
        placed = []
        for j in range(draw(st.integers(0, 4))):
            m, c = draw(SIZES)
            if mem + m > SHAPE.mem or cpu + c > SHAPE.cpu:
                break
            mem, cpu = mem + m, cpu + c
            placed.append(Server(f"{node_id}-u{j}", node_id, draw(st.booleans()), m, c))
        empty_min = draw(st.integers(0, 30))
        nodes.append(
            Node(
                id=node_id,
                ready=draw(st.integers(0, 4)) > 0,  # some joined but not Ready yet
                mem_total=SHAPE.mem,
                cpu_total=SHAPE.cpu,
                mem_reserved=mem,
                cpu_reserved=cpu,
                # The swarm's count may lag behind an assigned pending server.
                user_servers=len(placed) - (1 if placed and draw(st.booleans()) else 0),
                empty_since=None if placed else NOW - timedelta(minutes=empty_min),
                protected=draw(st.booleans()),
                draining=draw(st.integers(0, 5)) == 0,
            )
        )
        servers += placed
    for k in range(draw(st.integers(0, 20))):
        m, c = draw(SIZES)
        servers.append(Server(f"p{k}", None, True, m, c))
    ago = draw(st.one_of(st.none(), st.integers(0, 600)))
    return State(
        nodes=tuple(nodes),
        servers=tuple(servers),
        pending_requests=draw(st.integers(0, 3)),
        last_scale_out=None if ago is None else NOW - timedelta(seconds=ago),
        node_shape=SHAPE,
        slot=SLOT,
        config=config,
    )


FAST = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(states())
def test_never_above_max_or_below_min(s):
    plan = decide(s, NOW)
    assert s.config.min_nodes <= plan.desired <= s.config.max_nodes


@FAST
@given(states())
def test_never_drains_a_node_with_a_user_server(s):
    plan = decide(s, NOW)
    with_users = {x.node_id for x in s.servers if x.node_id} | {
        n.id for n in s.nodes if n.user_servers
    }
    assert with_users <= plan.protect
    assert not (set(plan.drain) & with_users)
    assert not (plan.protect & plan.unprotect)
    assert plan.protect == hosting_nodes(s)


@FAST
@given(st.one_of(states(), states(big=True)))
def test_demand_below_max_is_met(s):
    """With room under max for a node per pending server, the desired nodes
    offer at least the memory and CPU the unplaced servers reserve."""
    unplaced = [x for x in s.servers if x.node_id is None]
    current = len(s.nodes) + s.pending_requests
    assume(current + len(unplaced) <= s.config.max_nodes)
    plan = decide(s, NOW)
    kept = [n for n in s.nodes if n.id not in plan.drain]
    usable = [n for n in kept if not n.draining]
    fresh = plan.desired - len(kept)  # requested or to be requested, of node_shape
    assert fresh >= 0
    mem = sum(n.mem_free for n in usable) + fresh * SHAPE.mem
    cpu = sum(n.cpu_free for n in usable) + fresh * SHAPE.cpu
    assert mem >= sum(x.mem for x in unplaced)
    assert cpu + 1e-9 >= sum(x.cpu for x in unplaced)


@FAST
@given(states(big=True))
def test_headroom_met_when_room_and_not_cooling(s):
    cooling = s.last_scale_out is not None and (
        (NOW - s.last_scale_out).total_seconds() < s.config.scale_out_cooldown
    )
    unplaced = [x for x in s.servers if x.node_id is None]
    per_node = slots_in(SHAPE.mem, SHAPE.cpu, SLOT)
    spare = s.config.max_nodes - len(s.nodes) - s.pending_requests
    # Headroom is kept while someone has a server.
    assume(
        s.servers
        and not cooling
        and spare >= len(unplaced) + -(-s.config.headroom_slots // per_node)
    )
    plan = decide(s, NOW)
    # Free slots of the desired nodes before the pending servers take their share.
    kept = [n for n in s.nodes if n.id not in plan.drain and not n.draining]
    fresh = plan.desired - len([n for n in s.nodes if n.id not in plan.drain])
    total_mem = sum(n.mem_free for n in kept) + fresh * SHAPE.mem - sum(x.mem for x in unplaced)
    assert total_mem >= s.config.headroom_slots * SLOT.mem


@FAST
@given(states())
def test_idempotent_once_applied(s):
    plan = decide(s, NOW)
    again = decide(after(s, plan, NOW), NOW)
    assert again.desired == plan.desired
    assert again.drain == ()
