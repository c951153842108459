"""The container images: built locally, pre-loaded into every node and AMI."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from swarmhub import versions
from swarmhub.config.types import Strict

# A reference as Docker's distribution/reference grammar writes one:
# [registry[:port]/]path[:tag][@sha256:digest], path components in lower case.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
# A first part is a registry only with a dot, a port or as localhost (as Docker reads it).
_DOMAIN = rf"(?:{_LABEL}(?:\.{_LABEL})+(?::\d+)?|{_LABEL}:\d+|localhost)"
_NAME = rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
_REFERENCE = re.compile(
    rf"^(?P<name>{_NAME})(?::(?P<tag>[\w][\w.-]{{0,127}}))?(?:@(?P<digest>sha256:[0-9a-f]{{64}}))?$"
)
_REPOSITORY = re.compile(rf"^{_NAME}$")


def image_reference(value: str) -> str:
    """An image named by tag or digest; a name alone (`latest` by default) is refused:
    every node must hold exactly the image the hub asks for."""
    match = _REFERENCE.match(value)
    if not match or len(value) > 255:
        raise ValueError(
            "is not an image reference; write [registry/]name:tag, "
            "e.g. swarmhub/notebook:2025.1 (lower case, no spaces)"
        )
    if not (match.group("tag") or match.group("digest")):
        raise ValueError(
            f"names no tag; name the image by tag or digest, e.g. {value}:2025.1 "
            "(a node holds the exact image, never whatever `latest` was)"
        )
    return value


class ImagesConfig(Strict):
    # Where the local bake tags its images: <repository>/hub:<hash>, <repository>/notebook:<hash>.
    repository: str = "swarmhub"
    # Debian release of the local images' base (debootstrap).
    debian_suite: str = versions.DEBIAN_SUITE
    # The Debian mirror debootstrap and apt use for the local images.
    debian_mirror: str = Field(default=versions.DEBIAN_MIRROR, description="URL")

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        if not _REPOSITORY.match(value):
            raise ValueError(
                "is not an image repository; write lower-case names with / between parts, "
                "e.g. swarmhub or registry.example.org/course"
            )
        return value

    @field_validator("debian_mirror")
    @classmethod
    def _mirror(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("is not a URL; write e.g. http://deb.debian.org/debian")
        return value
