"""The container images: built locally, pre-loaded into every node and AMI."""

from __future__ import annotations

from pydantic import Field

from swarmhub import versions
from swarmhub.config.types import Strict


class ImagesConfig(Strict):
    repository: str = Field(default="swarmhub", pattern=r"^[a-z0-9][a-z0-9._/-]*$")
    debian_suite: str = versions.DEBIAN_SUITE
    debian_mirror: str = versions.DEBIAN_MIRROR
