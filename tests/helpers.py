"""Small pieces several test modules share."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from swarmhub.hub.settings import Runtime

# --- shell scripts with their tools replaced on PATH --------------------------


def fake_tools(tmp_path: Path, tools: dict[str, str]) -> tuple[Path, Path]:
    """Executables that log `name args...` (one line each) and then run `body`."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    log = tmp_path / "calls.log"
    for name, body in tools.items():
        tool = bindir / name
        tool.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n{body}\n')
        tool.chmod(0o755)
    return bindir, log


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def run_script(script: Path, bindir: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`sh script` with the fakes in `bindir` first on PATH and only `env` besides."""
    return subprocess.run(
        ["sh", str(script)],
        env={"PATH": f"{bindir}:/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


# --- the facts of a deployment the hub reads -----------------------------------


def runtime(**overrides) -> Runtime:
    """A local deployment's Runtime, as deploy writes it; override what a test needs."""
    return Runtime(
        **{
            "target": "local",
            "network": "swarmhub",
            "hub_service": "swarmhub-hub",
            "proxy_service": "swarmhub-proxy",
            "notebook_image": "swarmhub/notebook:1",
            "hub_image": "swarmhub/hub:1",
            "homes_host_dir": "/var/lib/swarmhub/homes",
            "public_url": "http://10.0.0.1:8000/",
            **overrides,
        }
    )


def without_aws_credentials(monkeypatch, tmp_path: Path, region: str = "eu-central-1") -> None:
    """No AWS credentials anywhere botocore looks: environment, files, the
    instance metadata service, and boto3's default session, which keeps the
    credentials it first found (an earlier test's moto "testing")."""
    import boto3

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
