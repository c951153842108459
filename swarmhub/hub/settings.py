"""The hub's settings: the validated config plus what `deploy` decided at run time.

`deploy` renders them to settings.json next to the hub's database (no secrets
in it); the hub config, the spawner and the hub's services read them back
through `load()`. Secrets reach the hub as Swarm secrets in /run/secrets.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path

from swarmhub.config import Config, parse_config

SETTINGS_ENV = "SWARMHUB_SETTINGS"
DEFAULT_PATH = "/srv/jupyterhub/settings.json"
SECRETS_DIR = "/run/secrets"


@dataclass(frozen=True)
class Runtime:
    """Facts of this deployment that are not in swarmhub.yaml."""

    target: str  # local | aws
    network: str  # the attachable overlay network of hub, proxy and servers
    hub_service: str  # the hub's service name, how the proxy and servers reach it
    proxy_service: str
    notebook_image: str
    hub_image: str
    homes_host_dir: str  # homes as every node sees them (EFS mount or host dir)
    public_url: str
    # The node pool the autoscaler drives: the local agent's URL, or the ASG's name.
    pool_url: str = ""
    asg_name: str = ""
    # How user servers reach the hub's API: the manager's own address and the
    # hub port published there, which stay put when the hub's container is
    # replaced (its overlay address does not, and servers cache names).
    hub_connect_url: str = ""


@dataclass(frozen=True)
class Settings:
    config: Config
    runtime: Runtime


def render(config: Config, runtime: Runtime) -> str:
    return json.dumps(
        {"config": config.model_dump(mode="json"), "runtime": runtime.__dict__},
        indent=2,
        sort_keys=True,
    )


@functools.cache
def load(path: str | None = None) -> Settings:
    path = path or os.environ.get(SETTINGS_ENV, DEFAULT_PATH)
    data = json.loads(Path(path).read_text())
    return Settings(config=parse_config(data["config"], path), runtime=Runtime(**data["runtime"]))


def secret(name: str) -> str:
    """A Swarm secret mounted into this container; empty if absent."""
    path = Path(os.environ.get("SWARMHUB_SECRETS_DIR", SECRETS_DIR)) / name
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""
