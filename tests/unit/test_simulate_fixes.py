"""The simulator measures what it says: the week's edges, the poll, the
switch, the lab's length, restarts, integer slots, and the course's randomness."""

from __future__ import annotations

import statistics

import pytest

from swarmhub.autoscaler import simulate as sim
from swarmhub.autoscaler.course import Request, requests
from swarmhub.config.autoscaler import AutoscalerConfig
from tests.unit.test_simulate import tiny as course

GIB = 1024**3


def req(user: str, arrival: float, lifetime: float = 3600.0) -> Request:
    return Request(user, arrival, lifetime, 2 * GIB, 0.5)


def test_arrivals_after_the_week_are_left_out_not_negative_nor_given_up():
    c = course()
    trace = [req("in", 3600.0), req("late", sim.WEEK + 600.0)]
    for result in (
        sim.run_autoscaler(c, trace, AutoscalerConfig(min_nodes=0)),
        sim.run_static(c, trace, 1),
        sim.run_cpu_target(c, trace, AutoscalerConfig(min_nodes=0)),
    ):
        assert len(result.waits) == 1, result.policy
        assert min(result.waits) >= 0
        assert result.gave_up == 0


def test_still_waiting_when_the_week_ends_is_not_a_give_up():
    c = course()
    trace = [req("last", sim.WEEK - 30.0)]  # a node takes 60 s to boot
    r = sim.run_autoscaler(c, trace, AutoscalerConfig(min_nodes=0))
    assert r.gave_up == 0
    assert r.waiting_at_end == 1
    assert r.waits == [pytest.approx(30.0)]  # what they had waited so far


def test_decisions_happen_at_poll_instants():
    c = course(start="10:00")
    cfg = AutoscalerConfig(min_nodes=0, poll_interval=60, scale_in_cooldown=600)
    # Everyone at 10:00:05: the next poll is 10:01:00, the node Ready at 10:02:00.
    trace = [req(f"u{i}", 10 * 3600 + 5.0) for i in range(3)]
    r = sim.run_autoscaler(c, trace, cfg)
    assert r.waits == [pytest.approx(115.0)] * 3
    assert sum(r.decisions.values()) == int(sim.WEEK // 60) + 1


def test_autoscaler_off_is_a_static_pool_of_min_nodes():
    c = course(arrivals=9)  # 8 fit on a node
    r = sim.run_autoscaler(c, requests(c), AutoscalerConfig(enabled=False, min_nodes=1))
    assert r.node_hours == pytest.approx(168.0)
    assert r.decisions == {}
    assert sorted(r.waits)[-1] == pytest.approx(3600.0)  # the ninth waits for a leaver
    assert "off" in r.policy


def test_stay_capped_at_the_labs_end():
    c = course(
        arrivals=40,
        early_minutes=10,
        spread_minutes=20,
        stay_min_minutes=50,
        stay_max_minutes=120,
        length_minutes=60,
        leave_by_end=True,
    )
    lab_end = 10 * 3600 + 60 * 60
    for r in requests(c):
        assert r.arrival + r.lifetime <= lab_end + 1e-6
        assert r.lifetime > 0


def test_length_minutes_is_used_by_the_cap_only_when_asked():
    c = course(arrivals=20, stay_min_minutes=90, stay_max_minutes=90, length_minutes=60)
    assert all(r.lifetime == pytest.approx(90 * 60) for r in requests(c))


def test_restart_wait_after_an_eviction_is_measured():
    c = course(arrivals=1)
    world = sim._Sim(c, requests(c))
    world.launch(1, boot=0)
    world.run_until(10 * 3600 + 1)
    (node,) = world.nodes.values()
    world.remove(node)
    world.launch(1, boot=90)  # a replacement, Ready 90 s later
    world.run_until(10 * 3600 + 200)
    result = sim._result("x", world, c)
    assert result.evictions == 1
    assert result.restart_waits == [pytest.approx(90.0)]


def test_lower_bound_counts_whole_servers_per_node():
    # 3 GiB servers on a 16 GiB node: 5 fit, not 5.33.
    c = course(mem="3G", arrivals=16)
    bound, peak = sim.lower_bound(c, requests(c))
    assert peak == 4
    assert bound == pytest.approx(4.0)
    # ... and a static pool of that peak makes nobody wait.
    assert max(sim.run_static(c, requests(c), peak).waits) == 0


def test_lognormal_and_exponential_stays_and_poisson_counts():
    logn = course(
        arrivals=2000,
        stay="lognormal",
        stay_median_minutes=90,
        stay_sigma=0.4,
        stay_min_minutes=None,
        stay_max_minutes=None,
    )
    stays = [r.lifetime / 60 for r in requests(logn)]
    assert statistics.median(stays) == pytest.approx(90, rel=0.05)
    expo = course(
        arrivals=2000,
        stay="exponential",
        stay_mean_minutes=40,
        stay_min_minutes=None,
        stay_max_minutes=None,
    )
    stays = [r.lifetime / 60 for r in requests(expo)]
    assert statistics.mean(stays) == pytest.approx(40, rel=0.07)
    pois = course(arrivals=400, arrival_count="poisson", days=["mon", "tue", "wed", "thu"])
    counts = [
        sum(1 for r in requests(pois) if r.user.startswith(f"lab-{d}"))
        for d in ("mon", "tue", "wed", "thu")
    ]
    assert len(set(counts)) > 1  # random, not 400 each
    assert all(300 < n < 500 for n in counts)


def test_a_seed_gives_the_same_trace_and_another_a_different_one():
    c = course(
        arrivals=50,
        arrival_count="poisson",
        stay="exponential",
        stay_mean_minutes=30,
        stay_min_minutes=None,
        stay_max_minutes=None,
        spread_minutes=20,
    )
    assert requests(c) == requests(c)
    other = c.model_copy(update={"seed": 2})
    assert requests(other) != requests(c)


def test_uniform_stay_needs_its_bounds():
    with pytest.raises(ValueError, match="stay_min_minutes"):
        course(stay_min_minutes=None)


def test_the_week_runs_to_its_end_not_to_the_last_poll():
    c = course()
    cfg = AutoscalerConfig(min_nodes=1, poll_interval=17)  # the last poll: 8 s before the end
    r = sim.run_autoscaler(c, [req("late", sim.WEEK - 5.0)], cfg)
    assert r.waits == [0.0]
    assert r.waiting_at_end == 0


def test_leave_by_end_holds_for_a_student_who_waited():
    c = course(arrivals=9, stay_min_minutes=50, stay_max_minutes=60, leave_by_end=True)
    c = c.model_copy(update={"server": c.server.model_copy(update={"cull_minutes": 10})})
    world = sim._Sim(c, requests(c))
    world.launch(1, boot=0)  # 8 seats: the ninth starts when the first leaves
    lab_end = 10 * 3600 + 60 * 60
    world.run_until(lab_end + 10 * 60 - 1)
    assert all(s.started is not None for s in world.servers)
    world.run_until(lab_end + 10 * 60)
    assert world.running == 0


def test_autoscaler_off_keeps_the_pool_deploy_starts():
    from swarmhub.config import Config

    c = course()
    cfg = Config.model_validate({"local": {"workers": 3}, "autoscaler": {"enabled": False}})
    # From swarmhub.yaml (the course has no autoscaler section): local.workers.
    assert sim.static_pool_size(c, cfg, "local", cfg.autoscaler) == 3
    report = sim.simulate(c, cfg.autoscaler, static_nodes=3)
    assert report.results[0].policy == "autoscaler off (3 nodes)"
    assert report.results[0].node_hours == pytest.approx(3 * 168)
    # A course's own section says min_nodes.
    own = c.model_copy(update={"autoscaler": AutoscalerConfig(enabled=False, min_nodes=2)})
    assert sim.static_pool_size(own, cfg, "local", own.autoscaler) == 2
