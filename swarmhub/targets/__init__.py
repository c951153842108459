"""Where swarmhub runs: each target is one object with the same verbs.

    bake     build the images (local docker images, or AMIs)
    render   write every file deploy acts on into a directory; nothing applied
    plan     render, then say what deploy would change (`deploy --plan`)
    apply    render, then make it so (`deploy`)
    status   the hub, its nodes and users
    destroy  remove what deploy made (`--purge`: homes and state too)

`swarmhub.cli` picks the target once and calls these; the local target lives
in swarmhub.local, the AWS one in swarmhub.aws.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from swarmhub.config import Config


class Target(Protocol):
    name: str

    def bake(self, *, only: str | None, force: bool) -> None: ...

    def render(self, out: Path) -> list[Path]: ...

    def plan(self) -> None: ...

    def apply(self) -> None: ...

    def status(self, as_json: bool = False) -> None: ...

    def destroy(self, *, purge: bool) -> None: ...


def get(cfg: Config, name: str) -> Target:
    if name == "local":
        from swarmhub.targets.local import LocalTarget

        return LocalTarget(cfg)
    from swarmhub.targets.aws import AwsTarget

    return AwsTarget(cfg)
