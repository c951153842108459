"""Recorded weeks (trace.py's events) as the simulator's requests, and back.

A replay spans every week of its file: from the Monday before the first
event to the end of the week of the last one. A replayed server is asked for
when the student asked, and runs as long as it really ran (start to stop):
the simulated wait shifts it, it does not shorten it. A server that never
started has no run time to replay: it is left out and named in the report
(`left_out`); one still running when the file ends runs on past the span.
"""

from __future__ import annotations

import math
import os
from datetime import datetime, timedelta

from swarmhub.autoscaler.course import Course, Request
from swarmhub.autoscaler.sim_world import WEEK
from swarmhub.autoscaler.trace import ServerEvent, Visit, monday_of


def replay_requests(
    found: list[Visit], t0: datetime, mem: int, cpu: float, span: float = WEEK
) -> tuple[list[Request], list[Visit]]:
    """The requests of the `span` seconds from `t0`, and the visits they came from.
    `mem`/`cpu`: the reservation of a server whose events do not say."""
    out, used = [], []
    for v in found:
        if v.started is None:
            continue
        arrival = (v.requested - t0).total_seconds()
        if not 0 <= arrival < span:
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


def left_out(found: list[Visit], used: list[Visit]) -> list[str]:
    """One line per kind of recorded server the replay could not place, naming
    up to five users: never started (no run time), or outside the span."""
    taken = {id(v) for v in used}
    never = [v.user for v in found if v.started is None]
    outside = [v.user for v in found if v.started is not None and id(v) not in taken]
    lines = []
    for users, why in ((never, "never started"), (outside, "outside the replayed span")):
        if users:
            names = ", ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5 else "")
            noun = "server" if len(users) == 1 else "servers"
            lines.append(f"not replayed: {len(users)} {noun} {why} (user {names})")
    return lines


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
    """The course whose node, server and policies the replay uses, set to span
    every week of the file: from the Monday of the first event to the end of
    the week of the last. Without a course file: the local target's node
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
    first = monday_of(events[0].time, course.timezone)
    last = monday_of(events[-1].time, course.timezone)
    weeks = max(1, math.floor((last - first).days / 7) + 1)
    return course.model_copy(update={"week_of": first, "weeks": weeks})
