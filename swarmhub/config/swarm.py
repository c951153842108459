"""The swarm itself, the same on every target: its overlay network."""

from __future__ import annotations

from pydantic import field_validator

from swarmhub.config.types import Strict, private_subnet


class SwarmConfig(Strict):
    # The attachable overlay the hub, the proxy and every user server share:
    # each server takes one address, so a /20 or larger (the default /24 of
    # Docker would cap a hub at ~250 servers).
    overlay_subnet: str = "10.214.0.0/20"

    @field_validator("overlay_subnet")
    @classmethod
    def _subnet(cls, value: str) -> str:
        return private_subnet(value, "10.214.0.0/20", min_addresses=4096)
