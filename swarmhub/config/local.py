"""The local target: the whole system on this one machine."""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator

from swarmhub.config.types import Strict


class LocalConfig(Strict):
    state_dir: str = "/var/lib/swarmhub"
    # Homes live here, bind-mounted into every node's containers (the local twin
    # of EFS). Kept by `destroy`; removed only by `destroy --purge`.
    homes_dir: str = "/var/lib/swarmhub/homes"
    # One bridge, one subnet for all local nodes: the twin of one VPC subnet.
    node_subnet: str = "10.213.0.0/24"
    # Worker nodes started by `deploy` (the autoscaler adds more within its bounds).
    workers: int = Field(default=1, ge=0, le=16)
    # A local node offers the swarm this machine's memory and CPUs (dockerd
    # reports the host's); set servers' reservations with that in mind.

    @field_validator("node_subnet")
    @classmethod
    def _subnet(cls, value: str) -> str:
        try:
            net = ipaddress.ip_network(value)
        except ValueError as exc:
            raise ValueError(f"'{value}' is not a subnet in CIDR form") from exc
        if not net.is_private:
            raise ValueError(f"'{value}' must be a private range")
        return value

    @field_validator("state_dir", "homes_dir")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"'{value}' must be an absolute path")
        return value
