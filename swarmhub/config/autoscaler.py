"""The autoscaler's bounds, headroom, schedule and timing."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from swarmhub.config.types import Strict

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def weekdays(value: list[str]) -> list[str]:
    """Normalise weekday names to mon..sun; an unknown one is an error."""
    out = [d.lower()[:3] for d in value]
    for day in out:
        if day not in _DAYS:
            raise ValueError(f"'{day}' is not a weekday (mon..sun)")
    return out


class BusyWindow(Strict):
    """A known busy time, e.g. a lab: at least `min_nodes` from `start` to `end`."""

    days: list[str] = Field(min_length=1)
    start: str
    end: str
    timezone: str = "UTC"
    min_nodes: int = Field(ge=0)

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        return weekdays(value)

    @field_validator("start", "end")
    @classmethod
    def _time(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"'{value}' is not a time of day HH:MM")
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"'{value}' is not a known time zone") from exc
        return value


class AutoscalerConfig(Strict):
    enabled: bool = True
    min_nodes: int = Field(default=1, ge=0)
    max_nodes: int = Field(default=10, ge=1)
    # Free user slots kept warm so the next student starts without waiting for a node.
    headroom_slots: int = Field(default=2, ge=0)
    # An empty node goes only after it has been empty this long.
    scale_in_cooldown: int = Field(default=600, ge=0, description="seconds")
    # No new scale-out request until the previous one had time to boot.
    scale_out_cooldown: int = Field(default=60, ge=0, description="seconds")
    # How long a node takes from request to Ready; busy windows start this early.
    node_boot_seconds: int = Field(default=120, ge=0)
    poll_interval: int = Field(default=15, gt=0, description="seconds")
    # A node the swarm has seen down (engine dead, network cut) this long is
    # lost: terminated and, when demand wants it, replaced. Never supply.
    lost_node_seconds: int = Field(default=60, ge=0, description="seconds")
    schedule: list[BusyWindow] = []

    @model_validator(mode="after")
    def _bounds(self) -> AutoscalerConfig:
        if self.min_nodes > self.max_nodes:
            raise ValueError("min_nodes must not exceed max_nodes")
        for window in self.schedule:
            if window.min_nodes > self.max_nodes:
                raise ValueError(
                    f"a schedule window asks for {window.min_nodes} nodes, above max_nodes"
                )
        return self
