"""The fleet's size over time, as the autoscaler sees it: what `report` bills.

The hub's server events (swarmhub.hub.events) see a node only while it hosts a
server. A node that boots, is held by `min_nodes` or a schedule window, or
waits for its cooldown is paid for too, and only the autoscaler knows about
it. At each poll it counts the workers it has, joined or still booting, and
appends a line to `fleet.jsonl`, beside the hub's events file, whenever that
count changes:

    {"time": "2026-12-01T14:00:03+00:00", "workers": 3}

Standard library only: the CLI's `report` reads it on the operator's machine.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

FILE_NAME = "fleet.jsonl"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FleetRecord:
    time: datetime  # aware, UTC
    workers: int


class FleetRecorder:
    """Appends a record when the count changes (and the first time it is asked)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.last: int | None = None
        self.warned = False

    def record(self, now: datetime, workers: int) -> None:
        if workers == self.last:
            return
        line = json.dumps({"time": now.isoformat(), "workers": int(workers)})
        try:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line + "\n")
        except OSError as exc:
            if not self.warned:  # the bill loses detail; scaling goes on
                log.warning("cannot record the fleet's size in %s: %s", self.path, exc)
                self.warned = True
            return
        self.last = workers


def read_fleet(path: str | Path) -> list[FleetRecord]:
    """The records of a fleet file, oldest first; a missing file has none. A line
    that is not a record is an error naming the file and the line."""
    p = Path(path)
    if not p.exists():
        return []
    out = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            when = datetime.fromisoformat(data["time"])
            workers = int(data["workers"])
            if when.utcoffset() != timedelta(0) or workers < 0:
                raise ValueError("time must be UTC and workers >= 0")
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{p}:{n}: not a fleet record ({exc})") from None
        out.append(FleetRecord(when, workers))
    return sorted(out, key=lambda r: r.time)


def steps(records: list[FleetRecord], start: datetime, end: datetime):
    """(from, to, workers) for each stretch of [start, end) the records cover:
    from the last record at or before `start` (or the first one after it) on."""
    before = [r for r in records if r.time <= start]
    inside = [r for r in records if start < r.time < end]
    points = ([FleetRecord(start, before[-1].workers)] if before else []) + inside
    return [
        (a.time, (points[i + 1].time if i + 1 < len(points) else end), a.workers)
        for i, a in enumerate(points)
    ]


def node_hours(steps_: list[tuple[datetime, datetime, int]]) -> float:
    """Worker-hours of `steps` (what steps() gives)."""
    return sum((b - a).total_seconds() * n for a, b, n in steps_) / 3600
