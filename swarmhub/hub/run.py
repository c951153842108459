"""Entry points of the hub image: `python -m swarmhub.hub.run hub|proxy`.

The proxy's token comes from a Swarm secret; configurable-http-proxy reads it
only from the environment, so it is put there just before exec, never on a
command line or in the service spec.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from swarmhub.hub import tls
from swarmhub.hub.settings import load, secret
from swarmhub.swarm.specs import HUB_PORT, PROXY_API_PORT, PROXY_PORT, STATE_DIR


def hub() -> None:
    config = Path(__file__).with_name("jupyterhub_config.py")
    os.execvp("jupyterhub", ["jupyterhub", "-f", str(config)])  # noqa: S606


def proxy() -> None:
    s = load()
    rt = s.runtime
    env = {**os.environ, "CONFIGPROXY_AUTH_TOKEN": secret("swarmhub-proxy-token")}
    hub_url = f"http://{rt.hub_service}:{HUB_PORT}"
    args = [
        "configurable-http-proxy",
        "--ip=0.0.0.0",
        f"--port={PROXY_PORT}",
        "--api-ip=0.0.0.0",
        f"--api-port={PROXY_API_PORT}",
        f"--default-target={hub_url}",
        f"--error-target={hub_url}/hub/error",
        # hub.https: self-signed -> the public port speaks only HTTPS (one port, no
        # plain-HTTP listener to redirect from); the API port stays inside the overlay.
        *tls.proxy_args(s.config.hub.https, STATE_DIR),
    ]
    os.execvpe(args[0], args, env)  # noqa: S606


if __name__ == "__main__":
    {"hub": hub, "proxy": proxy}[sys.argv[1] if len(sys.argv) > 1 else "hub"]()
