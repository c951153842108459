"""Where the local target keeps its files, derived from the config in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from swarmhub.config import Config


@dataclass(frozen=True)
class Paths:
    state: Path
    homes: Path

    @property
    def images_file(self) -> Path:
        """What the last bake built: {"hub": tag, "notebook": tag}."""
        return self.state / "images.json"

    @property
    def secrets(self) -> Path:
        """Generated passwords and tokens, 0700 dir, 0600 files."""
        return self.state / "secrets"

    @property
    def hub_state(self) -> Path:
        """The hub's database and cookie secret: local disk, never NFS."""
        return self.state / "hub"

    @property
    def nodes(self) -> Path:
        return self.state / "nodes"

    @property
    def image_cache(self) -> Path:
        """Saved image tarballs, loaded into every local node (the AMI's pre-pull)."""
        return self.state / "image-cache"


def paths(cfg: Config) -> Paths:
    return Paths(state=Path(cfg.local.state_dir), homes=Path(cfg.local.homes_dir))
