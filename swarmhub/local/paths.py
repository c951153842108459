"""Every file and directory of the local target, in one place.

Derived from `local.state_dir` and `local.homes_dir`. The two roots are made
by `ensure_state` / `ensure_homes`, which leave a mark in a root they create;
`destroy --purge` removes a root only when it carries that mark, so it never
deletes a directory swarmhub did not make (an existing `/home`, say).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from swarmhub.config import Config

MARK = ".swarmhub-owned"  # a file in a root directory swarmhub created


@dataclass(frozen=True)
class Paths:
    state: Path
    homes: Path

    @property
    def courses(self) -> Path:
        """Each course's area (shared/, the nbgrader exchange): beside the homes, on
        the same storage, in a directory no user can be named (the hub makes it)."""
        from swarmhub.config.courses import AREA_DIR

        return self.homes / AREA_DIR

    @property
    def archives(self) -> Path:
        """Where `archive` keeps homes by default: beside the state directory, not
        in it, so `destroy --purge` (which removes state and homes) never reaches
        the only copy of a semester's work (`<state_dir>-archive`)."""
        return self.state.with_name(self.state.name + "-archive")

    @property
    def old_archives(self) -> Path:
        """Where archives went before: inside the state, within purge's reach."""
        return self.state / "archive"

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
        """The hub's database, cookie secret and settings.json: local disk, never NFS."""
        return self.state / "hub"

    @property
    def rendered(self) -> Path:
        """What the last deploy rendered and applied (swarmhub.local.render)."""
        return self.state / "rendered"

    @property
    def nodes(self) -> Path:
        """One directory per local node: node.json, its dockerd's data-root and log."""
        return self.state / "nodes"

    @property
    def image_cache(self) -> Path:
        """Saved image tarballs, loaded into every local node (the AMI's pre-pull)."""
        return self.state / "image-cache"

    @property
    def golden(self) -> Path:
        """Data-roots that hold the images, one per set of images (swarmhub.local.golden)."""
        return self.state / "golden"

    @property
    def pool_file(self) -> Path:
        """The pool agent's desired count and scale-in protection."""
        return self.state / "pool.json"

    @property
    def agent_pid(self) -> Path:
        return self.state / "agent.pid"

    @property
    def agent_log(self) -> Path:
        return self.state / "agent.log"

    @property
    def engine_log(self) -> Path:
        """The host engine's log, when swarmhub started it (no systemd)."""
        return self.state / "dockerd.log"

    def ensure_state(self) -> Path:
        return _ensure_root(self.state, mode=0o755)

    def ensure_homes(self) -> Path:
        return _ensure_root(self.homes, mode=0o755)

    def owned(self, root: Path) -> bool:
        """Whether `root` is a directory swarmhub made (and marked)."""
        return (root / MARK).is_file()


def _ensure_root(root: Path, mode: int) -> Path:
    if not root.exists():
        root.mkdir(mode=mode, parents=True)
        (root / MARK).write_text("made by swarmhub; `destroy --purge` may remove this directory\n")
    return root


def paths(cfg: Config) -> Paths:
    return Paths(state=Path(cfg.local.state_dir), homes=Path(cfg.local.homes_dir))
