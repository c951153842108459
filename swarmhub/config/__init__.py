"""One typed config model for swarmhub.yaml.

Defaults live in the section models and nowhere else; unknown keys are
rejected; every error names the file and the field. Secrets are never in
this model: they are read from the environment or generated and stored by
the target (see swarmhub.swarm.secrets).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from swarmhub.config.autoscaler import AutoscalerConfig
from swarmhub.config.aws import AwsConfig
from swarmhub.config.hub import HubConfig, QuotaConfig, ServersConfig
from swarmhub.config.images import ImagesConfig
from swarmhub.config.lifecycle import LifecycleConfig
from swarmhub.config.local import LocalConfig
from swarmhub.config.swarm import SwarmConfig
from swarmhub.config.types import Strict
from swarmhub.errors import SwarmhubError

Target = Literal["local", "aws"]


# Seconds a spawn needs beyond a node's boot: the join, the autoscaler's poll,
# the server's own start.
START_MARGIN = 60


class Config(Strict):
    name: str = Field(default="swarmhub", pattern=r"^[a-z][a-z0-9-]{0,23}$")
    hub: HubConfig = HubConfig()
    servers: ServersConfig = ServersConfig()
    quota: QuotaConfig = QuotaConfig()
    images: ImagesConfig = ImagesConfig()
    autoscaler: AutoscalerConfig = AutoscalerConfig()
    lifecycle: LifecycleConfig = LifecycleConfig()
    swarm: SwarmConfig = SwarmConfig()
    local: LocalConfig = LocalConfig()
    aws: AwsConfig | None = None

    @model_validator(mode="after")
    def _room_for_a_boot(self) -> Config:
        # A server that waits for a new node must not time out before it boots.
        need = self.autoscaler.node_boot_seconds + START_MARGIN
        if self.autoscaler.enabled and self.servers.start_timeout < need:
            raise ValueError(
                f"servers.start_timeout ({self.servers.start_timeout} s) must be at least "
                f"autoscaler.node_boot_seconds + {START_MARGIN} ({need} s), or a student "
                "whose server waits for a new node times out before it boots"
            )
        return self

    def default_target(self) -> Target:
        return "aws" if self.aws is not None else "local"


def _field_path(loc: tuple) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def _describe(error: dict) -> str:
    kind = error["type"]
    msg = error["msg"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required field is missing"
    msg = msg.removeprefix("Value error, ")
    if (
        "input" in error
        and kind not in ("model_type",)
        and not isinstance(error["input"], dict | list)
    ):
        return f"{msg} (got {error['input']!r})"
    return msg


def parse_config(data: object, source: str) -> Config:
    """Validate `data` (parsed YAML) from `source`; one clear SwarmhubError on failure."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SwarmhubError(f"{source}: the top level must be a mapping of sections")
    # A section whose keys are all commented out is null in YAML: its defaults apply.
    data = {key: value for key, value in data.items() if value is not None or key == "aws"}
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = len(exc.errors()) - 1
        extra = f" (and {more} more error{'s' if more > 1 else ''})" if more else ""
        # A check across sections names its fields in its message.
        where = f"{_field_path(first['loc'])}: " if first["loc"] else ""
        raise SwarmhubError(f"{source}: {where}{_describe(first)}{extra}") from None


def load_config(path: str | Path, *, missing_ok: bool = False) -> Config:
    """Read and validate swarmhub.yaml. A missing file is an error unless `missing_ok`,
    in which case the defaults (the local target) apply."""
    import yaml

    path = Path(path)
    if not path.exists():
        if missing_ok:
            return Config()
        raise SwarmhubError(
            f"{path}: no such config file", hint="copy swarmhub.example.yaml to start one"
        )
    try:
        text = path.read_text()
    except OSError as exc:
        raise SwarmhubError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise SwarmhubError(f"{path}:{where}: invalid YAML: {problem}") from None
    return parse_config(data, str(path))


__all__ = ["Config", "Target", "load_config", "parse_config", "ServersConfig", "QuotaConfig"]
