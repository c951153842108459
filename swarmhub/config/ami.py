"""Baking the AMIs with Packer (the `aws.ami` section).

Every value here goes into the image's input hash (see swarmhub.aws.bake):
change one and the next bake rebuilds the images it affects. The Cinc
Client pin lives here rather than in swarmhub.versions because it is a
per-deployment choice (an operator may mirror the .deb), with a default.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from swarmhub.config.types import Strict

# Cinc Client, installed from its .deb and checked against this SHA-256
# before dpkg runs (packer/scripts/install-cinc.sh).
CINC_VERSION = "18.7.10"
CINC_DEB_URL = (
    f"https://downloads.cinc.sh/files/stable/cinc/{CINC_VERSION}"
    f"/ubuntu/24.04/cinc_{CINC_VERSION}-1_amd64.deb"
)
CINC_DEB_SHA256 = "731b4757e8de4236db48c3672cb69693b9f7f66ea902f8c728990ec38a1fdc7d"

# Cinc Server: the URL names the pinned release; its SHA-256 has no default
# on purpose (the bake refuses an unverified server package), see
# images/chef-server/README.md.
CINC_SERVER_VERSION = "15.10.91"
CINC_SERVER_DEB_URL = (
    f"https://downloads.cinc.sh/files/stable/cinc-server/{CINC_SERVER_VERSION}"
    f"/ubuntu/24.04/cinc-server-core_{CINC_SERVER_VERSION}-1_amd64.deb"
)

_SHA256 = r"^[0-9a-f]{64}$"
# An image reference with an explicit tag or digest: a node must hold exactly
# the image the hub will ask for, never whatever `latest` was at bake time.
_IMAGE_REF = r"^[a-z0-9][a-z0-9._/:-]*(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})$"


CHEF_SERVER_UNPINNED = (
    "aws.ami.chef_server_package_sha256 is not set: the chef-server image "
    "installs no unverified package"
)


class AmiConfig(Strict):
    instance_type: str = "t3.large"
    # Canonical's owner id: the base image lookup is pinned to it.
    base_ami_owner: str = Field(default="099720109477", pattern=r"^\d{12}$")
    base_ami_name: str = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"
    deprecate_after_days: int = Field(default=90, gt=0)
    keep: int = Field(default=3, ge=1, description="AMIs per image that prune keeps")
    # KMS key of the encrypted root volume; None: the account's default EBS key.
    kms_key_id: str | None = None

    # Container images pre-loaded into the worker AMI. Left at these defaults:
    # the local bake's own images (run `bake --target local` first), carried
    # into the AMI as `docker save` archives and checked by image id (decision
    # 0011). Or name images in a registry of yours that the build instance can
    # pull from (ECR works with its instance role), by tag or digest.
    notebook_image: str = Field(default="swarmhub/notebook:0.1.0", pattern=_IMAGE_REF)
    hub_image: str = Field(default="swarmhub/hub:0.1.0", pattern=_IMAGE_REF)
    # Instance profile of the build instance (for pulls from ECR); None: none.
    build_instance_profile: str | None = None

    cinc_version: str = Field(default=CINC_VERSION, pattern=r"^\d+\.\d+\.\d+$")
    cinc_deb_url: str = Field(default=CINC_DEB_URL, pattern=r"^https://")
    cinc_deb_sha256: str = Field(default=CINC_DEB_SHA256, pattern=_SHA256)

    chef_server_flavor: Literal["cinc", "chef"] = "cinc"
    chef_server_package_url: str = Field(default=CINC_SERVER_DEB_URL, pattern=r"^https://")
    chef_server_package_sha256: str | None = Field(default=None, pattern=_SHA256)
    chef_organization: str = Field(default="swarmhub", pattern=r"^[a-z0-9][a-z0-9_-]{0,254}$")
    chef_admin_user: str = Field(default="swarmhub-admin", pattern=r"^[a-z0-9][a-z0-9_-]*$")

    # Where bake renders its inputs and records the AMI ids (amis.json);
    # relative paths are taken from the directory pipeline.py runs in.
    work_dir: str = ".work/aws"
    # A packer binary other than the one on PATH (>= 1.10).
    packer_binary: str | None = None

    def chef_server_unpinned_hint(self) -> str:
        """How to fix CHEF_SERVER_UNPINNED (bake and validate print the same)."""
        return (
            f"curl -fsSL {self.chef_server_package_url} | sha256sum, "
            "or set aws.fleet.chef_server: false"
        )
