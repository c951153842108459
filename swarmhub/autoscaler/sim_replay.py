"""A recorded week (trace.py's events) as the simulator's requests, and back.

A replayed server is asked for when the student asked, and runs as long as
it really ran (start to stop): the simulated wait shifts it, it does not
shorten it. A server that never started is left out of the replay (it is
counted in the recorded row); one still running when the file ends runs on
past the week.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from swarmhub.autoscaler.course import Course, Request
from swarmhub.autoscaler.sim_world import WEEK
from swarmhub.autoscaler.trace import ServerEvent, Visit, monday_of


def replay_requests(
    found: list[Visit], t0: datetime, mem: int, cpu: float
) -> tuple[list[Request], list[Visit]]:
    """The requests of the week from `t0`, and the visits they came from.
    `mem`/`cpu`: the reservation of a server whose events do not say."""
    out, used = [], []
    for v in found:
        if v.started is None:
            continue
        arrival = (v.requested - t0).total_seconds()
        if not 0 <= arrival < WEEK:
            continue
        ran = 2 * WEEK if v.stopped is None else (v.stopped - v.started).total_seconds()
        out.append(
            Request(
                v.user,
                arrival,
                max(0.0, ran),
                mem if v.mem is None else v.mem,
                cpu if v.cpu is None else v.cpu,
            )
        )
        used.append(v)
    return out, used


def events_from_requests(
    course: Course, trace: list[Request], waits: dict[str, float] | None = None
) -> list[ServerEvent]:
    """The events a hub would have written for `trace` if each server started
    `waits[user]` seconds (default 0) after its request: for tests and demos."""
    from swarmhub.autoscaler.course import week_start

    t0, waits = week_start(course), waits or {}
    out = []
    for r in trace:
        wait = waits.get(r.user, 0.0)
        asked = t0 + timedelta(seconds=r.arrival)
        started = asked + timedelta(seconds=wait)
        common = dict(
            user=r.user,
            course=course.name,
            profile="default",
            mem_reservation=r.mem,
            cpu_reservation=r.cpu,
        )
        out.append(ServerEvent(time=asked, event="spawn_requested", **common))
        out.append(
            ServerEvent(time=started, event="server_started", spawn_wait_seconds=wait, **common)
        )
        stopped = started + timedelta(seconds=r.end_if_started(r.arrival + wait) - r.arrival - wait)
        out.append(ServerEvent(time=stopped, event="server_stopped", **common))
    out.sort(key=lambda e: e.time)
    return out


def course_for_replay(course: Course | None, events: list[ServerEvent], cfg, target: str) -> Course:
    """The course whose node, server and policies the replay uses, set to the
    week of the first event. Without a course file: the local target's node
    (this machine, as local nodes report it) and swarmhub.yaml's servers."""
    from swarmhub.errors import SwarmhubError

    if course is None:
        if target != "local":
            raise SwarmhubError(
                "simulate --replay on the aws target needs --course FILE for the node's size, "
                "boot time and price"
            )
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        course = Course.model_validate(
            {
                "name": "replay",
                "node": {
                    "memory": memory,
                    "cpus": os.cpu_count() or 1,
                    "boot_seconds": cfg.autoscaler.node_boot_seconds,
                    "price_per_hour": 0,
                },
                "server": {
                    "mem_reservation": cfg.servers.mem_reservation,
                    "cpu_reservation": cfg.servers.cpu_reservation,
                },
            }
        )
    if not events:
        raise SwarmhubError("the events file has no events")
    return course.model_copy(update={"week_of": monday_of(events[0].time, course.timezone)})
