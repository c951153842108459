"""What brings the local target back after the host reboots, without a `deploy`.

A reboot loses the node bridge, every node's network namespace and dockerd,
and the pool agent; the swarm's state, the hub database and each node's
data-root are on disk. On a machine with systemd, `deploy` installs one unit:

    ExecStartPre  python -m swarmhub.local.bridge   the bridge, before the engine
    ExecStart     python -m swarmhub.local.agent    which first calls restore()

ordered before docker.service, so the engine finds the manager's address when
it brings the swarm up. restore() starts every node again on its own
data-root: its swarm membership is in there, so it rejoins as the same node.
Without systemd (a container, this project's CI) nothing runs at boot, and the
same restore() runs when `deploy` starts the agent.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from swarmhub.config import Config
from swarmhub.errors import SwarmhubError
from swarmhub.local import bridge, engine, nodes
from swarmhub.local.paths import paths
from swarmhub.run import run, write_atomic

UNIT = "swarmhub-local.service"
UNIT_DIR = Path("/etc/systemd/system")
log = logging.getLogger("swarmhub.pool")


def has_systemd() -> bool:
    return os.path.isdir("/run/systemd/system")


def unit_text(cfg: Config, python: str = sys.executable) -> str:
    settings = paths(cfg).hub_state / "settings.json"
    return f"""[Unit]
Description=swarmhub local target: node bridge, worker nodes and pool agent
Before=docker.service
Wants=docker.service

[Service]
Type=simple
ExecStartPre={python} -m swarmhub.local.bridge --settings {settings}
ExecStart={python} -m swarmhub.local.agent --settings {settings}
Restart=on-failure
RestartSec=5
KillMode=mixed

[Install]
WantedBy=multi-user.target
"""


def install(cfg: Config) -> bool:
    """Install and enable the unit; False where there is no systemd."""
    if not has_systemd():
        return False
    if write_atomic(UNIT_DIR / UNIT, unit_text(cfg)):
        run(["systemctl", "daemon-reload"], quiet=True)
    run(["systemctl", "enable", UNIT], quiet=True)
    return True


def uninstall() -> None:
    if not has_systemd() or not (UNIT_DIR / UNIT).exists():
        return
    run(["systemctl", "disable", "--now", UNIT], check=False, quiet=True)
    (UNIT_DIR / UNIT).unlink(missing_ok=True)
    run(["systemctl", "daemon-reload"], check=False, quiet=True)


def restore(cfg: Config) -> list[str]:
    """The bridge, the engine, and every node whose dockerd is not running, started
    again on its data-root. Names of the nodes restarted; one that fails to come
    back is left to the pool's reconciler, which replaces it."""
    bridge.ensure_bridge(cfg)
    engine.ensure_engine()
    back = []
    for node in nodes.list_nodes(cfg):
        if nodes.dockerd_alive(node):
            continue
        try:
            nodes.resume(cfg, node)
            back.append(node.name)
            log.info("node %s: started again on its data-root", node.name)
        except SwarmhubError as exc:
            log.warning("node %s did not come back (%s); the pool replaces it", node.name, exc)
    return back
