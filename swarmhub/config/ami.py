"""Baking the AMIs with Packer (the `aws.ami` section)."""

from __future__ import annotations

from pydantic import Field

from swarmhub.config.types import Strict


class AmiConfig(Strict):
    instance_type: str = "t3.large"
    # Canonical's owner id: the base image lookup is pinned to it.
    base_ami_owner: str = Field(default="099720109477", pattern=r"^\d{12}$")
    base_ami_name: str = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"
    deprecate_after_days: int = Field(default=90, gt=0)
    keep: int = Field(default=3, ge=1, description="AMIs per image that prune keeps")
