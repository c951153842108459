"""The hub's two swarm services, the proxy and the hub: one spec for every target.

`swarmhub.local.deploy` (this machine) and `swarmhub.aws.manager_up` (the AWS
manager) both create them from here and differ only in what they pass: the
image, where the hub state and the homes are on the host, the published port,
and a little environment. A spec is a plain dict that
`swarmhub.swarm.stack.ensure_service` creates, and whose hash decides
whether a running service is kept or replaced.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from swarmhub.swarm import labels

# Ports and paths inside the hub image, the same on every target.
HUB_PORT = 8081
PROXY_PORT = 8000
PROXY_API_PORT = 8001
AUTOSCALER_PORT = 9101
STATE_DIR = "/srv/jupyterhub"  # the hub's database, cookie secret and settings.json
NOTEBOOK_HOME = "/home/jovyan"
HOMES_HUB_DIR = "/homes"  # every home, as the hub container sees them

NETWORK = "swarmhub"  # the attachable overlay of hub, proxy and user servers
HUB = "swarmhub-hub"
PROXY = "swarmhub-proxy"


def specs(
    *,
    image: str,
    hub_state: Path,
    homes: str,
    settings_text: str,
    port: int,
    hub_secrets: list[str],
    env: dict[str, str] | None = None,
    proxy_env: dict[str, str] | None = None,
) -> tuple[dict, dict]:
    """(proxy, hub) specs.

    settings_text: the hub's settings.json; both services read it at start, so
    its hash is in their environment and new settings mean new tasks.
    port: published on the manager in host mode (iptables only, no routing mesh).
    The hub's API port is published there too (HUB_PORT): user servers reach
    the hub at the manager's address, which a new hub container keeps.
    """
    digest = hashlib.sha256(settings_text.encode()).hexdigest()[:16]

    def common(name: str, command: list[str]) -> dict:
        return {
            "name": name,
            "env": {"SWARMHUB_SETTINGS_HASH": digest, **(env or {})},
            "image": image,
            "command": ["tini", "--", "python3", "-m", "swarmhub.hub.run", *command],
            "networks": [NETWORK],
            "constraints": ["node.role==manager"],
            "labels": {labels.MANAGED: "true"},
            "mounts": [f"{hub_state}:{STATE_DIR}:rw"],
        }

    proxy = common(PROXY, ["proxy"])
    proxy["env"].update(proxy_env or {})
    proxy["mounts"] = [f"{hub_state}:{STATE_DIR}:ro"]
    proxy["secrets"] = ["swarmhub-proxy-token"]
    proxy["ports"] = [(port, PROXY_PORT)]

    hub = common(HUB, ["hub"])
    hub["mounts"] += [
        "/var/run/docker.sock:/var/run/docker.sock:rw",
        f"{homes}:/homes:rw",
    ]
    hub["secrets"] = hub_secrets
    hub["ports"] = [(HUB_PORT, HUB_PORT)]
    return proxy, hub
