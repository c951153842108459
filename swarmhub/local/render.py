"""Render the local target: every file `deploy` acts on, and nothing else.

No engine, no root, no network: the hub's settings.json, the proxy's and the
hub's service specs (as `swarmhub.swarm.stack` creates them) and the node plan,
for a person to read (`pipeline.py render`), for `deploy --plan` to compare
with what runs, and for `deploy` to apply. Secrets are named, never included.
"""

from __future__ import annotations

import json
import socket
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from swarmhub.config import Config
from swarmhub.hub.settings import Runtime
from swarmhub.hub.settings import render as render_settings
from swarmhub.local import agent, images
from swarmhub.local.bridge import manager_address
from swarmhub.local.paths import paths
from swarmhub.run import write_atomic
from swarmhub.swarm import secrets, specs

FILES = ("settings.json", "service-proxy.json", "service-hub.json", "nodes.json")


@dataclass(frozen=True)
class Rendered:
    settings: str  # the hub's settings.json
    proxy: dict  # the proxy's service spec
    hub: dict  # the hub's service spec
    nodes: dict  # {"workers": n, "subnet": ..., "manager": ...}

    @property
    def specs(self) -> tuple[dict, dict]:
        return self.proxy, self.hub

    def write(self, out: Path) -> list[Path]:
        out.mkdir(parents=True, exist_ok=True)
        texts = [
            self.settings,
            json.dumps(self.proxy, indent=2, sort_keys=True) + "\n",
            json.dumps(self.hub, indent=2, sort_keys=True) + "\n",
            json.dumps(self.nodes, indent=2, sort_keys=True) + "\n",
        ]
        for name, text in zip(FILES, texts, strict=True):
            write_atomic(out / name, text)
        return [out / name for name in FILES]

    @classmethod
    def read(cls, directory: Path) -> Rendered:
        settings, proxy, hub, nodes = ((directory / name).read_text() for name in FILES)
        return cls(settings, json.loads(proxy), json.loads(hub), json.loads(nodes))


def host_ip() -> str:
    """This machine's address on its default route (what a student's browser uses)."""
    with suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # TEST-NET: no packet is sent for a UDP connect
        return s.getsockname()[0]
    return "127.0.0.1"


def scheme(cfg: Config) -> str:
    return "https" if cfg.hub.https == "self-signed" else "http"


def runtime(cfg: Config, tags: dict[str, str]) -> Runtime:
    p = paths(cfg)
    manager = manager_address(cfg)
    return Runtime(
        target="local",
        network=specs.NETWORK,
        hub_service=specs.HUB,
        proxy_service=specs.PROXY,
        notebook_image=tags["notebook"],
        hub_image=tags["hub"],
        homes_host_dir=str(p.homes),
        public_url=f"{scheme(cfg)}://{host_ip()}:{cfg.hub.port}/",
        pool_url=f"http://{manager}:{agent.PORT}",
        hub_connect_url=f"http://{manager}:{specs.HUB_PORT}",
    )


def render(cfg: Config, tags: dict[str, str] | None = None) -> Rendered:
    """What deploy would make of `cfg`, with the images `tags` (default: the ones
    the last bake recorded, else the ones a bake of these inputs would tag)."""
    tags = tags or images.recorded_or_expected(cfg)
    p = paths(cfg)
    settings = render_settings(cfg, runtime(cfg, tags)) + "\n"
    proxy, hub = specs.specs(
        image=tags["hub"],
        hub_state=p.hub_state,
        homes=str(p.homes),
        settings_text=settings,
        port=cfg.hub.port,
        hub_secrets=secrets.hub_secrets(cfg),
    )
    # Through JSON, as the file is read back: the spec hash is of what is applied.
    proxy, hub = json.loads(json.dumps(proxy)), json.loads(json.dumps(hub))
    nodes = {
        "workers": cfg.local.workers,
        "subnet": cfg.local.node_subnet,
        "manager": manager_address(cfg),
        "images": sorted(tags.values()),
    }
    return Rendered(settings, proxy, hub, nodes)
