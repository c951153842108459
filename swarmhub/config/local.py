"""The local target: the whole system on this one machine."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from swarmhub.config.paths_safety import check_dedicated, check_pair
from swarmhub.config.types import FieldError, Strict, private_subnet


class LocalConfig(Strict):
    # swarmhub's own directory: the hub's database, secrets, nodes, image cache.
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
        return private_subnet(value, "10.213.0.0/24")

    @field_validator("state_dir", "homes_dir")
    @classmethod
    def _dedicated(cls, value: str, info) -> str:
        # destroy --purge deletes these trees, and homes are mounted into servers.
        problem = check_dedicated(value, info.field_name)
        if problem:
            raise ValueError(problem)
        return value.rstrip("/") or "/"

    @model_validator(mode="after")
    def _apart(self) -> LocalConfig:
        for field, problem in check_pair(self.state_dir, self.homes_dir):
            raise FieldError(field, problem, shown=getattr(self, field))
        return self
