"""decide()'s search for a fit, sped up for the simulator's bursts, answers
as the plain fullest_fit() over every bin did: same plan for any state."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swarmhub.autoscaler import decide as decide_module
from swarmhub.autoscaler.decide import decide
from swarmhub.autoscaler.model import Server, State
from swarmhub.autoscaler.packing import fullest_fit
from tests.unit.test_decide import NOW
from tests.unit.test_decide_properties import SIZES, states


class _Plain:
    """What decide() did before: fullest_fit() over the whole list each time."""

    def __init__(self, bins):
        self.bins = bins

    def fullest(self, mem, cpu):
        return fullest_fit(self.bins, mem, cpu)


@st.composite
def bursts(draw) -> State:
    """A state of states(), plus a queue of many servers of few sizes."""
    s = draw(states(big=draw(st.booleans())))
    extra = [Server(f"q{k}", None, True, *draw(SIZES)) for k in range(draw(st.integers(0, 60)))]
    return State(
        nodes=s.nodes,
        servers=s.servers + tuple(extra),
        pending_requests=s.pending_requests,
        last_scale_out=s.last_scale_out,
        node_shape=s.node_shape,
        slot=s.slot,
        config=s.config,
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bursts())
def test_the_fast_search_gives_the_plain_searchs_plan(s):
    fast = decide(s, NOW)
    saved = decide_module._Search
    decide_module._Search = _Plain
    try:
        plain = decide(s, NOW)
    finally:
        decide_module._Search = saved
    assert fast == plain
