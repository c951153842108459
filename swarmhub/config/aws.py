"""The `aws` section: present means `--target aws` is the default."""

from __future__ import annotations

from pydantic import Field

from swarmhub.config.ami import AmiConfig
from swarmhub.config.fleet import FleetConfig
from swarmhub.config.types import Strict


class AwsConfig(Strict):
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    name_prefix: str = Field(default="swarmhub", pattern=r"^[a-z][a-z0-9-]{0,23}$")
    ami: AmiConfig = AmiConfig()
    fleet: FleetConfig = FleetConfig()
