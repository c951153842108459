"""The Docker engine on this machine: check for root, find it, start it if it is down.

Debian's `docker.io` is the engine of the local target. When it is not
running we start it ourselves (systemd when this machine has it, otherwise
`dockerd` in the background with its log in the state directory), because the
first command a user types must work on a fresh machine.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from swarmhub.errors import SwarmhubError
from swarmhub.run import echo, run, start_daemon

SOCKET = "/var/run/docker.sock"
# The engine's log when swarmhub starts it itself (no systemd): beside the
# system's logs, not in a state directory that `destroy --purge` may remove.
LOG = Path("/var/log/swarmhub/dockerd.log")
_START_TIMEOUT = 60.0
INSTALL_HINT = "run scripts/install-deps, or: apt-get install docker.io"


def require_root() -> None:
    if os.geteuid() != 0:
        raise SwarmhubError(
            "the local target must run as root (it manages the Docker engine, "
            "network namespaces and bridges)",
            hint="run it with sudo",
        )


def client():
    """A docker SDK client for the host engine (the swarm manager)."""
    import docker

    return docker.DockerClient(base_url=f"unix://{SOCKET}", timeout=120)


def is_up(socket: str = SOCKET) -> bool:
    import docker

    try:
        docker.DockerClient(base_url=f"unix://{socket}", timeout=5).ping()
    except Exception:
        return False
    return True


def build_cli() -> str:
    """A docker client that can run BuildKit builds with secrets.

    Debian's docker.io client has BuildKit built in; Docker's own newer
    clients need the buildx plugin instead, which is not always installed.
    """
    debian = "/usr/bin/docker"
    if os.path.exists(debian):
        return debian
    path = shutil.which("docker")
    if path is None:
        raise SwarmhubError("no docker client found", hint=INSTALL_HINT)
    return path


def ensure_engine() -> None:
    """Make sure the engine answers; start it when it does not."""
    require_root()
    if is_up():
        return
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise SwarmhubError("the Docker engine (dockerd) is not installed", hint=INSTALL_HINT)
    if _has_systemd():
        run(["systemctl", "start", "docker"])
    else:
        LOG.parent.mkdir(parents=True, exist_ok=True)
        echo(f"starting the Docker engine (log: {LOG})")
        start_daemon([dockerd, "--storage-driver", "overlay2"], log=LOG)
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if is_up():
            return
        time.sleep(0.5)
    raise SwarmhubError(
        f"the Docker engine did not answer on {SOCKET} within {_START_TIMEOUT:.0f}s",
        hint=f"see {LOG}" if not _has_systemd() else "journalctl -u docker",
    )


def _has_systemd() -> bool:
    return os.path.isdir("/run/systemd/system")
