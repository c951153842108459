"""The AWS target: AMIs baked by Packer + Cinc, the fleet applied by Terraform (swarmhub.aws)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from swarmhub.config import Config
from swarmhub.errors import SwarmhubError
from swarmhub.run import echo, write_atomic

# What render writes for an AMI that no bake has recorded yet.
NOT_BAKED = "ami-00000000000000000"


@dataclass
class AwsTarget:
    cfg: Config
    name: str = "aws"

    def bake(self, *, only: str | None, force: bool) -> None:
        from swarmhub.aws import bake

        if only in ("hub", "notebook"):
            raise SwarmhubError(f"--only {only} is a container image: use --target local")
        bake.bake(self.cfg, only=only, force=force)

    def render(self, out: Path) -> list[Path]:
        """The Terraform variables deploy would apply (no AWS call, no Terraform run);
        AMIs no bake has recorded are shown as NOT_BAKED."""
        from swarmhub.aws import deploy

        try:
            amis = deploy.load_amis(self.cfg)
        except SwarmhubError:
            amis = {"worker": NOT_BAKED, "chef-server": NOT_BAKED}
        tfvars = deploy.render_tfvars(self.cfg, amis)
        hub_config = json.loads(tfvars["hub_config"])
        files = {
            out / "swarmhub.auto.tfvars.json": json.dumps(tfvars, indent=2, sort_keys=True),
            out / "hub-config.json": json.dumps(hub_config, indent=2, sort_keys=True),
        }
        for path, text in files.items():
            write_atomic(path, text + "\n")
        return list(files)

    def plan(self) -> None:
        from swarmhub.aws import deploy

        deploy.deploy(self.cfg, plan_only=True)

    def apply(self) -> None:
        from swarmhub.aws import deploy

        deploy.deploy(self.cfg)

    def status(self, as_json: bool = False) -> None:
        from swarmhub.aws import deploy

        if as_json:
            # swarmhub.aws.deploy prints its status as text only, so far.
            raise SwarmhubError("status --json: the local target only, so far; drop --json")
        deploy.status(self.cfg)

    def destroy(self, *, purge: bool) -> None:
        from swarmhub.aws import deploy

        deploy.destroy(self.cfg, purge=purge)
        if purge:
            # Archives live in the operator's own bucket (archive --to s3://...),
            # which Terraform did not make and destroy never touches.
            echo("archives in your S3 bucket (archive --to s3://...) are kept")
