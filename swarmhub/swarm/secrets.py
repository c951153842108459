"""Secrets of the local target: generated once, kept 0600, handed to the hub as Swarm secrets.

Never defaulted in code, never logged, never in the rendered settings. The
operator reads the admin password from the file `deploy` names.

Secrets the operator supplies (the GitHub OAuth client secret) come from the
environment at deploy time and go straight into a Swarm secret: swarmhub never
writes them to a file. On AWS the manager's boot makes the same Swarm secret
from SSM Parameter Store ($SWARMHUB_GITHUB_SECRET_PARAM in its user-data).
"""

from __future__ import annotations

import os
import secrets as _random
from pathlib import Path

from swarmhub.errors import SwarmhubError
from swarmhub.run import write_atomic

# name -> how many random bytes (url-safe text is 4/3 longer)
GENERATED = {
    "swarmhub-proxy-token": 32,
    "swarmhub-cli-token": 32,
    "swarmhub-pool-token": 32,  # the autoscaler's key to the local pool agent
    "swarmhub-admin-password": 24,  # JupyterHub wants >= 32 characters
    "swarmhub-user-password": 9,  # handed to a class: short enough to type
}


# The Swarm secret the hub reads (swarmhub.hub.auth) and the variable deploy takes it from.
GITHUB_CLIENT_SECRET = "swarmhub-github-client-secret"  # noqa: S105 - a name, not a value
GITHUB_CLIENT_SECRET_ENV = "SWARMHUB_GITHUB_CLIENT_SECRET"  # noqa: S105 - a name


def supplied(cfg) -> dict[str, str]:
    """The operator's secrets this config needs, from the environment; checked before
    deploy creates anything, so a missing one is one clear error and no half-made stack."""
    if cfg.hub.auth.kind != "github":
        return {}
    value = os.environ.get(GITHUB_CLIENT_SECRET_ENV, "").strip()
    if not value:
        raise SwarmhubError(
            f"hub.auth.kind is github but {GITHUB_CLIENT_SECRET_ENV} is not set",
            hint=f"export {GITHUB_CLIENT_SECRET_ENV} with your GitHub OAuth app's client secret",
        )
    return {GITHUB_CLIENT_SECRET: value}


# Only a shared-password hub has passwords of its own: with per-user accounts
# (the default) or GitHub there is no password for anyone to share.
SHARED_PASSWORDS = ("swarmhub-admin-password", "swarmhub-user-password")


def generated_for(cfg) -> list[str]:
    """The generated secrets this config uses."""
    shared = cfg is None or cfg.hub.auth.kind == "shared-password"
    return [name for name in GENERATED if shared or name not in SHARED_PASSWORDS]


def hub_secrets(cfg) -> list[str]:
    """The Swarm secrets the hub service mounts."""
    names = generated_for(cfg)
    if cfg.hub.auth.kind == "github":
        names.append(GITHUB_CLIENT_SECRET)
    return names


def ensure(secrets_dir: Path, cfg=None) -> dict[str, str]:
    """Read every generated secret `cfg` uses (all, without one), creating the
    missing ones (0700 dir, 0600 files)."""
    secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(secrets_dir, 0o700)
    out = {}
    for name in generated_for(cfg):
        size = GENERATED[name]
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
    write_atomic(secrets_dir / name, value, 0o600)
    return secrets_dir / name
