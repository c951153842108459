"""Packer: find it, check its version, init, validate and build a template.

Every packer command goes through `_packer`, the one place a subprocess is
started (tests replace just that function). The build's result is read from
the manifest post-processor's JSON file, never from packer's output.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from swarmhub.errors import SwarmhubError
from swarmhub.run import run

# required_plugins and the amazon plugin's deprecate_at/imds_support need it.
MIN_VERSION = (1, 10, 0)
TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "packer"
_HINT = "install packer >= 1.10 from releases.hashicorp.com, or set aws.ami.packer_binary"

# No update check against checkpoint.hashicorp.com on every call.
_ENV = {"CHECKPOINT_DISABLE": "1"}


def _packer(argv: Sequence[str], *, capture: bool = False) -> subprocess.CompletedProcess[str]:
    """Run one packer command (the only subprocess boundary of the AWS bake)."""
    return run(argv, capture=capture, env=_ENV)


def find(cfg) -> str:
    """The packer binary to use: aws.ami.packer_binary, else the one on PATH."""
    configured = cfg.aws.ami.packer_binary
    if configured:
        if not Path(configured).is_file():
            raise SwarmhubError(f"aws.ami.packer_binary: {configured} does not exist", hint=_HINT)
        return configured
    found = shutil.which("packer")
    if found is None:
        raise SwarmhubError("'packer' was not found on PATH", hint=_HINT)
    return found


def check_version(binary: str) -> str:
    """The version string; SwarmhubError when older than MIN_VERSION."""
    out = _packer([binary, "version"], capture=True).stdout
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", out)
    if not match:
        raise SwarmhubError(f"cannot tell the version of {binary} from {out.strip()!r}")
    version = tuple(int(part) for part in match.groups())
    if version < MIN_VERSION:
        want = ".".join(map(str, MIN_VERSION))
        raise SwarmhubError(
            f"{binary} is packer {match.group(0)}, the template needs >= {want}", hint=_HINT
        )
    return match.group(0)


def _var_args(var_files: Sequence[Path]) -> list[str]:
    # Later files win: the image's own data first, the rendered build values last.
    return [f"-var-file={path}" for path in var_files]


def init(binary: str) -> None:
    """Install the pinned plugins (packer/plugins.pkr.hcl); a no-op when present."""
    _packer([binary, "init", str(TEMPLATE_DIR)])


def validate(binary: str, var_files: Sequence[Path]) -> None:
    _packer([binary, "validate", *_var_args(var_files), str(TEMPLATE_DIR)])


def build(binary: str, var_files: Sequence[Path]) -> None:
    """Build, streaming packer's output. On failure packer removes what it made."""
    _packer(
        [
            binary,
            "build",
            "-color=false",
            "-timestamp-ui",
            # Explicit although the default: a failed build terminates the
            # instance and leaves no AMI, key pair or security group behind.
            "-on-error=cleanup",
            *_var_args(var_files),
            str(TEMPLATE_DIR),
        ]
    )


def read_manifest(path: Path, region: str) -> dict | None:
    """The artifact of the manifest's last run: {"ami_id", "build_time", "custom_data"}.

    None when there is no manifest or no build of its last run (nothing was
    registered). `artifact_id` is "region:ami-id[,region:ami-id...]".
    """
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise SwarmhubError(f"{path}: unreadable packer manifest: {exc}") from None
    last = manifest.get("last_run_uuid")
    builds = [b for b in manifest.get("builds", []) if b.get("packer_run_uuid") == last]
    if not builds:
        return None
    artifact = builds[-1]
    amis = dict(
        part.split(":", 1) for part in artifact.get("artifact_id", "").split(",") if ":" in part
    )
    if region not in amis:
        raise SwarmhubError(f"{path}: no AMI for region {region} in {artifact.get('artifact_id')}")
    return {
        "ami_id": amis[region],
        "build_time": artifact.get("build_time"),
        "custom_data": artifact.get("custom_data") or {},
    }
