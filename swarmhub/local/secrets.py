"""Secrets of the local target: generated once, kept 0600, handed to the hub as Swarm secrets.

Never defaulted in code, never logged, never in the rendered settings. The
operator reads the admin password from the file `deploy` names.
"""

from __future__ import annotations

import os
import secrets as _random
from pathlib import Path

# name -> how many random bytes (url-safe text is 4/3 longer)
GENERATED = {
    "swarmhub-proxy-token": 32,
    "swarmhub-cli-token": 32,
    "swarmhub-admin-password": 24,  # JupyterHub wants >= 32 characters
    "swarmhub-user-password": 9,  # handed to a class: short enough to type
}


def ensure(secrets_dir: Path) -> dict[str, str]:
    """Read every generated secret, creating the missing ones (0700 dir, 0600 files)."""
    secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(secrets_dir, 0o700)
    out = {}
    for name, size in GENERATED.items():
        path = secrets_dir / name
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(_random.token_urlsafe(size))
        os.chmod(path, 0o600)
        out[name] = path.read_text().strip()
    return out


def write(secrets_dir: Path, name: str, value: str) -> Path:
    secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = secrets_dir / name
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)
    os.replace(tmp, path)
    return path
