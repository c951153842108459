"""The local target: the whole system on this machine (swarmhub.local)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from swarmhub.config import Config
from swarmhub.errors import SwarmhubError


@dataclass
class LocalTarget:
    cfg: Config
    name: str = "local"

    def bake(self, *, only: str | None, force: bool) -> None:
        from swarmhub.local import images

        if only in ("worker", "chef-server"):
            raise SwarmhubError(f"--only {only} is an AMI: use --target aws")
        images.bake(self.cfg, only=only, force=force)

    def render(self, out: Path) -> list[Path]:
        from swarmhub.local.render import render

        return render(self.cfg).write(out)

    def plan(self) -> None:
        from swarmhub.local import deploy

        deploy.plan(self.cfg)

    def apply(self) -> None:
        from swarmhub.local import deploy

        deploy.deploy(self.cfg)

    def status(self, as_json: bool = False) -> None:
        from swarmhub.local.status import status

        status(self.cfg, as_json=as_json)

    def destroy(self, *, purge: bool) -> None:
        from swarmhub.local.destroy import destroy

        destroy(self.cfg, purge=purge)
