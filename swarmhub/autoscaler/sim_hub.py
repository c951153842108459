"""The hub side of a simulation: a swarmhub.yaml as production runs it.

A scenario (a course file's sessions: who arrives when and stays how long)
says nothing about the hub; this adds what production does with a config:
- the courses' windows join the schedule at each decision, only while their
  course runs (calendar.schedule_with, what service.gather() uses);
- a server is sized at its request by the spawner's rule (courses.sizing):
  its profile's reservation, or its limit during an exam of its course;
- a server outlives its student by the culler's linger (servers.idle_timeout)
  unless the scenario sets its own `cull_minutes`.
Without a config (`HubModel(None)`) it changes nothing: the scenario's own
server size and autoscaler section, as before.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from swarmhub.autoscaler.course import Request
from swarmhub.config.autoscaler import AutoscalerConfig
from swarmhub.courses import calendar
from swarmhub.courses.membership import NOBODY
from swarmhub.courses.sizing import Catalogue
from swarmhub.errors import SwarmhubError

# A server the culler never stops (idle_timeout 0) runs on past any span.
_FOREVER = 10 * 365 * 86400.0


class HubModel:
    """What a hub deployed with `config` (a swarmhub.yaml Config, or None) does
    to a simulation."""

    def __init__(self, config, image: str = "notebook"):
        self.config = config
        self.courses = list(config.courses) if config is not None else []
        self.catalogue = Catalogue.of(config, image) if config is not None else None
        self._cache: dict[tuple, AutoscalerConfig] = {}

    def config_at(self, autoscaler: AutoscalerConfig, now: datetime) -> AutoscalerConfig:
        """`autoscaler` as decide() reads it at `now`: with the windows of the
        courses that apply (one value per set of courses, so decide's input is
        the same object while nothing changes)."""
        if not self.courses:
            return autoscaler
        key = (id(autoscaler), tuple(c.name for c in self.courses if c.active(now)))
        if key not in self._cache:
            self._cache[key] = calendar.schedule_with(autoscaler, self.courses, now)
        return self._cache[key]

    def edges(self, autoscaler: AutoscalerConfig, t0: datetime, span: float) -> list[float]:
        """Every instant where the schedule floor may change: each window's start
        less the boot lead and its end, and each course's first and last day."""
        windows = [*autoscaler.schedule, *(w for c in self.courses for w in c.windows)]
        edges = calendar.window_edges(windows, t0, span, autoscaler.window_lead)
        return sorted({*edges, *calendar.date_edges(self.courses, t0, span)})

    def sized(self, trace: list[Request], t0: datetime) -> list[Request]:
        """`trace` as this hub would run it: each course member's server sized at
        its request by the spawner's rule, and the culler's linger added where
        the scenario left it to the hub."""
        if self.config is None:
            return trace
        known = {c.name for c in self.courses}
        linger = self.config.servers.idle_timeout or _FOREVER
        out = []
        for r in trace:
            change: dict = {}
            if r.course is not None or r.profile is not None:
                if r.course is not None and r.course not in known:
                    raise SwarmhubError(
                        f"a session names course {r.course!r}, which swarmhub.yaml's "
                        f"courses do not have (they are: {', '.join(sorted(known)) or 'none'})"
                    )
                now = t0 + timedelta(seconds=r.arrival)
                size = self._size(r, now)
                change.update(mem=size.mem, cpu=size.cpu)
            if not r.culled:
                change["lifetime"] = r.lifetime + linger
                if r.ends_by is not None:
                    change["ends_by"] = r.ends_by + linger
                change["culled"] = True
            out.append(dataclasses.replace(r, **change) if change else r)
        return out

    def _size(self, r: Request, now: datetime):
        groups = {f"course-{r.course}"} if r.course else set()
        m = self.catalogue.membership(groups, now) if groups else NOBODY
        options = {"profile": r.profile} if r.profile else {}
        try:
            return self.catalogue.size(options, m, now)
        except ValueError:
            # The hub refuses it (e.g. the course has ended): the student takes
            # what they are offered instead.
            return self.catalogue.size({}, m, now)
