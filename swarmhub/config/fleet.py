"""The AWS fleet Terraform launches (the `aws.fleet` section)."""

from __future__ import annotations

from pydantic import Field

from swarmhub.config.types import Strict


class FleetConfig(Strict):
    worker_instance_type: str = "m6i.xlarge"
    manager_instance_type: str = "t3.large"
    min_workers: int = Field(default=1, ge=0)
    max_workers: int = Field(default=10, ge=1)
    domain: str | None = None
    vpc_id: str | None = None
    chef_server: bool = True
    terraform_binary: str | None = None
