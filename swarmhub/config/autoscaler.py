"""The autoscaler's bounds, headroom, schedule and timing."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import Field, field_validator, model_validator

from swarmhub.config.types import FieldError, Strict

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def weekdays(value: list[str]) -> list[str]:
    """Normalise weekday names to mon..sun; an unknown one is an error."""
    out = []
    for i, day in enumerate(value):
        short = str(day).lower()[:3]
        if short not in _DAYS:
            raise FieldError(f"[{i}]", f"`{day}` is not a weekday; write mon, tue, ... sun")
        out.append(short)
    return out


class BusyWindow(Strict):
    """A known busy time, e.g. a lab: at least `min_nodes` from `start` to `end`."""

    # Weekdays of the window: mon, tue, ... sun.
    days: list[str] = Field(min_length=1)
    # Local time of day it starts, HH:MM (quoted).
    start: str
    # Local time of day it ends, HH:MM (quoted); before `start` only with overnight.
    end: str
    # Time zone of start and end (IANA name, e.g. Europe/Berlin).
    timezone: str = "UTC"
    # Nodes held from `start` (less the boot time) to `end`.
    min_nodes: int = Field(ge=0)
    # The window runs past midnight into the next day.
    overnight: bool = False

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        return weekdays(value)

    @field_validator("start", "end")
    @classmethod
    def _time(cls, value: str) -> str:
        if not _HHMM.match(value):
            hint = f"'0{value}'" if re.match(r"^\d:[0-5]\d$", value) else "'14:00'"
            raise ValueError(f"is not a time of day; write HH:MM, quoted, e.g. {hint}")
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            import difflib

            close = difflib.get_close_matches(value, sorted(available_timezones()), n=1)
            hint = f"did you mean `{close[0]}`?" if close else "write e.g. Europe/Berlin"
            raise ValueError(f"is not a known time zone; {hint}") from None
        return value

    @model_validator(mode="after")
    def _order(self) -> BusyWindow:
        # Taking an end before the start as "past midnight" held 3 nodes for 42 h a
        # week instead of 6 when the two were merely swapped: say it, or refuse.
        if self.end == self.start:
            raise FieldError("end", "is the same as `start`; a window needs a length")
        if self.end < self.start and not self.overnight:
            raise FieldError(
                "end",
                f"is before start `{self.start}`; a window past midnight needs `end` after "
                "`start` or `overnight: true`",
            )
        if self.end > self.start and self.overnight:
            raise FieldError(
                "overnight",
                f"but end `{self.end}` is after start `{self.start}` on the same day; "
                "remove `overnight` or swap the times",
            )
        return self


def calendar_defaults(data: object) -> object:
    """The raw swarmhub.yaml with the autoscaler's calendar defaults filled in.

    With a calendar (any `courses:` entry, or an `autoscaler.schedule` window)
    the hub knows when a class works, so `min_nodes` defaults to 0: the windows
    pre-warm what a class needs, and a node idling all week costs more than the
    first student of a quiet hour waiting for a boot (docs/autoscaler.md,
    "The default is the tuned one"). Without one it stays 1. Set, it is kept.
    """
    if not isinstance(data, dict):
        return data
    auto = data.get("autoscaler")
    auto = auto if isinstance(auto, dict) else {} if auto is None else None
    if auto is None or "min_nodes" in auto:
        return data
    if data.get("courses") or auto.get("schedule"):
        return {**data, "autoscaler": {**auto, "min_nodes": 0}}
    return data


class AutoscalerConfig(Strict):
    @property
    def window_lead(self) -> int:
        """How long before a busy window's start its nodes are asked for."""
        return self.node_boot_seconds + self.early_seconds

    # Off: the swarm keeps the nodes deploy started.
    enabled: bool = True
    # Nodes kept even when nobody works.
    min_nodes: int = Field(default=1, ge=0)
    # The most nodes it asks for (on AWS, at most aws.fleet.max_workers).
    max_nodes: int = Field(default=10, ge=1)
    # Free user slots kept warm so the next student starts without waiting for a node.
    headroom_slots: int = Field(default=2, ge=0)
    # An empty node goes only after it has been empty this long.
    scale_in_cooldown: int = Field(default=600, ge=0, description="seconds")
    # No new scale-out request until the previous one had time to boot.
    scale_out_cooldown: int = Field(default=60, ge=0, description="seconds")
    # How long a node takes from request to Ready; busy windows start this early.
    node_boot_seconds: int = Field(default=120, ge=0, description="seconds")
    # Students come early: a busy window's nodes are Ready this long before its
    # start (they are asked for node_boot_seconds before that).
    early_seconds: int = Field(default=600, ge=0, description="seconds")
    # How often it looks at demand and nodes.
    poll_interval: int = Field(default=15, gt=0, description="seconds")
    # A node the swarm has seen down (engine dead, network cut) this long is
    # lost: terminated and, when demand wants it, replaced. Never supply.
    lost_node_seconds: int = Field(default=60, ge=0, description="seconds")
    # Known busy hours (labs) with the nodes they need.
    schedule: list[BusyWindow] = []

    @model_validator(mode="after")
    def _bounds(self) -> AutoscalerConfig:
        if self.min_nodes > self.max_nodes:
            raise FieldError(
                "min_nodes",
                f"is above max_nodes ({self.max_nodes}); min_nodes must not exceed max_nodes",
                shown=str(self.min_nodes),
            )
        for i, window in enumerate(self.schedule):
            if window.min_nodes > self.max_nodes:
                raise FieldError(
                    f"schedule[{i}].min_nodes",
                    f"is above max_nodes ({self.max_nodes}); raise max_nodes or ask for fewer",
                )
        return self
