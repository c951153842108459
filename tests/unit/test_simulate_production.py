"""The simulator runs a swarmhub.yaml as production runs it (issue 22, items 1-2).

A course with lab windows and an exam window, a course that has ended, and
the culler's linger: the simulator's decisions, recorded at every instant it
decided, are fed back through production's own `service.gather()` (a fake
swarm and pool answering what the simulated world held at that instant) and
`decide()`: same decisions at the same instants. A server asked for during
the exam reserves its limit in both, as the spawner's profile hook sets it.
"""

from __future__ import annotations

from datetime import date, timedelta

from swarmhub.autoscaler.course import Course, requests, week_start
from swarmhub.autoscaler.decide import decide
from swarmhub.autoscaler.pools.base import PoolNode, PoolNodeState
from swarmhub.autoscaler.service import Memory, gather
from swarmhub.autoscaler.sim_hub import HubModel
from swarmhub.autoscaler.sim_policies import run_autoscaler
from swarmhub.config import parse_config
from swarmhub.hub.settings import Settings
from swarmhub.swarm import labels
from tests.helpers import runtime

GiB = 1024**3
WEEK_OF = date(2025, 3, 24)


def hub_config():
    return parse_config(
        {
            "servers": {
                "mem_reservation": "1G",
                "mem_limit": "4G",
                "cpu_reservation": 0.25,
                "cpu_limit": 1.0,
                "idle_timeout": 1200,
            },
            "autoscaler": {
                "enabled": True,
                "min_nodes": 0,
                "max_nodes": 12,
                "headroom_slots": 2,
                "poll_interval": 60,
                "node_boot_seconds": 90,
            },
            "courses": [
                {
                    "name": "intro",
                    "roster": ["ada", "bob"],
                    "timezone": "Europe/Berlin",
                    "start": "2025-03-01",
                    "end": "2025-06-30",
                    "windows": [
                        {"days": ["tue"], "start": "14:00", "end": "16:00", "min_nodes": 3},
                        {
                            "days": ["thu"],
                            "start": "10:00",
                            "end": "12:00",
                            "min_nodes": 2,
                            "kind": "exam",
                        },
                    ],
                },
                {
                    "name": "old",
                    "roster": ["cy"],
                    "start": "2024-09-01",
                    "end": "2025-01-31",
                    "windows": [
                        {"days": ["wed"], "start": "09:00", "end": "17:00", "min_nodes": 6}
                    ],
                },
            ],
        },
        "swarmhub.yaml",
    )


def scenario() -> Course:
    """The arrivals: the course's students at its lab and at its exam."""
    return Course(
        name="intro-week",
        timezone="Europe/Berlin",
        week_of=WEEK_OF,
        node={"memory": "8G", "cpus": 4, "boot_seconds": 90, "price_per_hour": 0.1},
        server={"mem_reservation": "1G", "cpu_reservation": 0.25},
        sessions=[
            {
                "name": "lab",
                "course": "intro",
                "days": ["tue"],
                "start": "14:00",
                "length_minutes": 110,
                "arrivals": 40,
                "early_minutes": 5,
                "spread_minutes": 20,
                "stay_min_minutes": 40,
                "stay_max_minutes": 90,
            },
            {
                "name": "exam",
                "course": "intro",
                "days": ["thu"],
                "start": "10:05",
                "length_minutes": 100,
                "arrivals": 30,
                "early_minutes": 0,
                "spread_minutes": 10,
                "stay_min_minutes": 60,
                "stay_max_minutes": 90,
            },
        ],
    )


class _Manager:
    """What a manager's Docker API would answer for the simulated world's state."""

    def __init__(self, state, sizes):
        self._nodes = [
            {
                "ID": n.id,
                "Spec": {"Role": "worker", "Availability": "drain" if n.draining else "active"},
                "Description": {
                    "Hostname": n.id,
                    "Resources": {"MemoryBytes": n.mem_total, "NanoCPUs": int(n.cpu_total * 1e9)},
                    "Engine": {"Labels": {}},
                },
                "Status": {"State": "ready"},
            }
            for n in state.nodes
        ]
        placed = [s for s in state.servers if not s.pending]
        self._services = [
            {"ID": f"svc-{s.user}", "Spec": {"Name": s.user, "Labels": {labels.USER: s.user}}}
            for s in placed
        ]
        self._tasks = [
            {
                "ServiceID": f"svc-{s.user}",
                "NodeID": s.node_id,
                "Status": {"State": "running"},
                "Spec": {
                    "Resources": {
                        "Reservations": {
                            "MemoryBytes": sizes[s.user][0],
                            "NanoCPUs": int(sizes[s.user][1] * 1e9),
                        }
                    }
                },
            }
            for s in placed
        ]
        self.shape = state.node_shape

    def nodes(self):
        return self._nodes

    def services(self, filters=None):
        return self._services

    def tasks(self, filters=None):
        return self._tasks

    def info(self):
        return {"MemTotal": self.shape.mem, "NCPU": self.shape.cpu}


class _Pool:
    def __init__(self, state):
        self.desired = len(state.nodes) + state.pending_requests
        self.nodes = [
            PoolNode(f"i-{n.id}", n.id, PoolNodeState.RUNNING, n.protected) for n in state.nodes
        ]

    def list_nodes(self):
        return self.nodes

    def get_desired(self):
        return self.desired


def test_simulator_and_production_decide_alike_on_a_course_with_windows_and_an_exam():
    cfg = hub_config()
    course = scenario()
    hub = HubModel(cfg, image=runtime().notebook_image)
    t0 = week_start(course)
    trace = hub.sized(requests(course), t0)
    sizes = {r.user: (r.mem, r.cpu) for r in trace}
    exam = [r for r in trace if r.user.startswith("exam-")]
    lab = [r for r in trace if r.user.startswith("lab-")]
    # during the exam a server reserves its limit (the spawner's rule); else its reservation
    assert exam and all((r.mem, r.cpu) == (4 * GiB, 1.0) for r in exam)
    assert lab and all((r.mem, r.cpu) == (1 * GiB, 0.25) for r in lab)
    # the culler's linger: a server outlives its student by servers.idle_timeout
    assert all(r.lifetime >= 40 * 60 + 1200 for r in lab)

    recorded: list = []
    result = run_autoscaler(course, trace, cfg.autoscaler, hub=hub, record=recorded)
    assert result.waiting_at_end == 0 and result.evictions == 0

    s = Settings(cfg, runtime())
    groups = {r.user: ["course-intro"] for r in trace}
    options = {r.user: {} for r in trace}
    compared = 0
    for t, state, plan in recorded:
        now = t0 + timedelta(seconds=t)
        memory = Memory(
            empty_since={n.id: n.empty_since for n in state.nodes if n.empty_since},
            last_scale_out=state.last_scale_out,
            started=t0 - timedelta(days=1),
        )
        pending = {srv.user for srv in state.servers if srv.pending}
        starting = _starting({u: options[u] for u in pending}, groups)
        prod = gather(s, _Manager(state, sizes), _Pool(state), memory, starting, now)
        got = decide(prod, now)
        assert (got.desired, got.action, set(got.drain)) == (
            plan.desired,
            plan.action,
            set(plan.drain),
        ), f"at {now}: production {got.reason!r}, simulator {plan.reason!r}"
        compared += 1
    assert compared > 20
    # the windows were decided on: the exam's and the lab's floors, never the ended course's
    floors = [plan.desired for _, _, plan in recorded]
    assert max(floors) < 6 or any(p.action == "scale_out" for _, _, p in recorded)
    reasons = " ".join(p.reason for _, _, p in recorded)
    assert "thu 10:00-12:00" in reasons and "tue 14:00-16:00" in reasons
    assert "wed 09:00-17:00" not in reasons


def _starting(options, groups):
    from swarmhub.autoscaler.service import Starting

    return Starting(options, groups={u: groups[u] for u in options})


def test_an_ended_course_stops_its_windows_in_the_simulation():
    # intro ends on Tuesday 25 March: its Tuesday lab still counts, Thursday's exam not
    ended = date(2025, 3, 25)
    base = hub_config()
    cfg = base.model_copy(
        update={"courses": [c.model_copy(update={"end": ended}) for c in base.courses]}
    )
    course = scenario()
    hub = HubModel(cfg, image=runtime().notebook_image)
    trace = hub.sized(requests(course), week_start(course))
    recorded: list = []
    run_autoscaler(course, trace, cfg.autoscaler, hub=hub, record=recorded)
    reasons = " ".join(p.reason for _, _, p in recorded)
    assert "tue 14:00-16:00" in reasons and "thu 10:00-12:00" not in reasons
    # after the course's end the exam students are nobody's: their servers are default-sized
    exam = [r for r in trace if r.user.startswith("exam-")]
    assert all((r.mem, r.cpu) == (1 * GiB, 0.25) for r in exam)
