"""decide()'s estimate, batched for the simulator's bursts, gives the plan
of the one-server-at-a-time estimate it replaced, for any state."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swarmhub.autoscaler import decide as decide_module
from swarmhub.autoscaler.decide import _Bin, decide
from swarmhub.autoscaler.model import Resources, Server, State
from swarmhub.capacity import fullest_fit
from swarmhub.config.autoscaler import AutoscalerConfig
from tests.unit.test_decide import GIB, NOW, SHAPE, SLOT
from tests.unit.test_decide_properties import SIZES, configs, states


def one_by_one(servers, ready, joining, requested, shape):
    """The estimate as decide() had it at 4030507, but for being a function
    (and put() taking sizes): each server in turn onto fullest_fit() over
    every bin."""
    new: list[_Bin] = []
    unplaced = sorted(
        (s for s in servers if s.node_id is None),
        key=lambda s: (-s.mem, -s.cpu, s.user),
    )
    too_big = waiting_on_boot = 0
    overflow = 0
    for server in unplaced:
        target = fullest_fit(ready, server.mem, server.cpu)
        if target is None:
            waiting_on_boot += 1
            target = fullest_fit(joining, server.mem, server.cpu) or fullest_fit(
                requested, server.mem, server.cpu
            )
        if target is None:
            if server.mem > shape.mem or server.cpu > shape.cpu:
                too_big += 1
                waiting_on_boot -= 1
                continue
            overflow += server.mem
            target = fullest_fit(new, server.mem, server.cpu)
            if target is None:
                target = _Bin(f"+new-{len(new)}", shape.mem, shape.cpu, 0, 0.0)
                new.append(target)
        target.put_one(server.mem, server.cpu)
    return new, too_big, waiting_on_boot, overflow


# Sizes that do not divide a node, CPU sums that are not exact in binary,
# and one larger than a node.
ODD = st.sampled_from([(3 * GIB, 0.3), (GIB, 0.1), (5 * GIB, 0.7), (9 * GIB, 0.5)])


@st.composite
def bursts(draw) -> State:
    """A state of states(), plus a queue of many servers of a few sizes."""
    s = draw(states(big=draw(st.booleans())))
    sizes = st.one_of(SIZES, ODD)
    extra = [Server(f"q{k}", None, True, *draw(sizes)) for k in range(draw(st.integers(0, 80)))]
    return State(
        nodes=s.nodes,
        servers=s.servers + tuple(extra),
        pending_requests=draw(st.integers(0, 6)),
        last_scale_out=s.last_scale_out,
        node_shape=s.node_shape,
        slot=s.slot,
        config=s.config,
    )


@st.composite
def odd_shapes(draw) -> State:
    """No nodes yet, a node shape that fits few of the queued sizes."""
    shape = Resources(draw(st.sampled_from([7 * GIB, 8 * GIB, 10 * GIB])), 1.0)
    servers = tuple(
        Server(f"q{k}", None, True, *draw(st.one_of(SIZES, ODD)))
        for k in range(draw(st.integers(0, 60)))
    )
    return State(
        nodes=(),
        servers=servers,
        pending_requests=draw(st.integers(0, 3)),
        last_scale_out=None,
        node_shape=shape,
        slot=Resources(GIB, 0.1),
        config=draw(configs(big=True)),
    )


def _both(s: State):
    fast = decide(s, NOW)
    saved = decide_module._estimate
    decide_module._estimate = one_by_one
    try:
        plain = decide(s, NOW)
    finally:
        decide_module._estimate = saved
    return fast, plain


SETTINGS = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.one_of(bursts(), odd_shapes()))
def test_the_batched_estimate_gives_the_one_by_one_plan(s):
    fast, plain = _both(s)
    assert fast == plain


@SETTINGS
@given(bursts())
def test_the_batched_estimate_leaves_the_same_bins(s):
    """Beyond the plan: the same new bins, in the same order, with the same room."""
    active = [n for n in s.nodes if not n.draining]

    def bins():
        ready = [
            _Bin(n.id, n.mem_free, n.cpu_free, n.mem_reserved, n.cpu_reserved)
            for n in active
            if n.ready
        ]
        joining = [
            _Bin(n.id, n.mem_free, n.cpu_free, n.mem_reserved, n.cpu_reserved)
            for n in active
            if not n.ready
        ]
        requested = [_Bin(f"+b{i}", SHAPE.mem, SHAPE.cpu, 0, 0.0) for i in range(3)]
        return ready, joining, requested

    a, b = bins(), bins()
    fast = decide_module._estimate(s.servers, *a, SHAPE)
    plain = one_by_one(s.servers, *b, SHAPE)
    assert fast == plain
    assert a == b  # the existing bins end alike too


def test_a_big_queue_is_batched():
    s = State(
        nodes=(),
        servers=tuple(Server(f"q{k}", None, True, SLOT.mem, SLOT.cpu) for k in range(4001)),
        pending_requests=0,
        last_scale_out=None,
        node_shape=SHAPE,
        slot=SLOT,
        config=AutoscalerConfig(min_nodes=0, max_nodes=2000, headroom_slots=0),
    )
    fast, plain = _both(s)
    assert fast == plain and fast.desired == 1001  # 4 a node
