"""The swarm itself, the same on every target: its overlay network."""

from __future__ import annotations

import ipaddress

from pydantic import field_validator

from swarmhub.config.types import Strict


class SwarmConfig(Strict):
    # The attachable overlay the hub, the proxy and every user server share:
    # each server takes one address, so a /20 or larger (the default /24 of
    # Docker would cap a hub at ~250 servers).
    overlay_subnet: str = "10.214.0.0/20"

    @field_validator("overlay_subnet")
    @classmethod
    def _subnet(cls, value: str) -> str:
        try:
            net = ipaddress.ip_network(value)
        except ValueError:
            raise ValueError("is not a subnet in CIDR form, e.g. 10.214.0.0/20") from None
        if not net.is_private:
            raise ValueError("is not a private range; use e.g. 10.214.0.0/20")
        if net.num_addresses < 4096:
            raise ValueError(
                "is smaller than a /20; each user server takes an address, use e.g. 10.214.0.0/20"
            )
        return value
