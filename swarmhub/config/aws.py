"""The `aws` section: present means `--target aws` is the default.

`refusals` is the one list of what `deploy` and `bake` refuse in a config
that is otherwise valid: `validate` asks it too, so it refuses with the same
line instead of calling valid what a later command stops on.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from swarmhub.config.ami import CHEF_SERVER_UNPINNED, AmiConfig
from swarmhub.config.fleet import FleetConfig
from swarmhub.config.types import Strict

NO_STATE_BUCKET = "aws.fleet.backend.bucket is not set: Terraform needs an S3 bucket for its state"
NO_STATE_BUCKET_HINT = "create a private, versioned bucket once (see docs/aws.md) and name it there"

# Which commands meet which refusal: every command that runs Terraform needs
# its state bucket; the bake builds the chef-server image only with the fleet's
# Chef Server.
_STATE_BUCKET_COMMANDS = frozenset({"validate", "deploy", "plan", "destroy"})
_BAKE_COMMANDS = frozenset({"validate", "bake"})


@dataclass(frozen=True)
class Refusal:
    """One thing a command refuses: the field, the line, how to fix it."""

    field: tuple[str, ...]
    message: str
    hint: str


class AwsConfig(Strict):
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    name_prefix: str = Field(default="swarmhub", pattern=r"^[a-z][a-z0-9-]{0,23}$")
    ami: AmiConfig = AmiConfig()
    fleet: FleetConfig = FleetConfig()

    def refusals(self, command: str) -> list[Refusal]:
        """What `command` (validate, deploy, plan, destroy, bake) would refuse."""
        found = []
        if command in _STATE_BUCKET_COMMANDS and self.fleet.backend.bucket is None:
            found.append(
                Refusal(
                    ("aws", "fleet", "backend", "bucket"), NO_STATE_BUCKET, NO_STATE_BUCKET_HINT
                )
            )
        if (
            command in _BAKE_COMMANDS
            and self.fleet.chef_server
            and not self.ami.chef_server_package_sha256
        ):
            found.append(
                Refusal(
                    ("aws", "ami", "chef_server_package_sha256"),
                    CHEF_SERVER_UNPINNED,
                    self.ami.chef_server_unpinned_hint(),
                )
            )
        return found
