"""The box's machine image: a Debian 12 tree that carries what the worker AMI carries.

Built in two cached stages under CACHE, each keyed by a hash of its inputs so a
change to the package list (or to the cookbook files copied in) builds anew:

1. `debootstrap` a minbase tree with systemd as init (the parts every machine needs);
2. in a chroot with /proc, /sys and /dev mounted, `apt-get install` the worker's
   packages (docker.io, nfs-common, certbot: the cookbook's attributes) and
   cloud-init. cloud-init fails to configure when it rides in debootstrap's
   --include (python3-cryptography needs /proc), hence the second step.
3. the worker cookbook's files (its scripts, installed where its recipes put
   them) and the box's own settings (cloud-init's datasource, no getty).

Machines boot from a copy-on-write overlay of the finished tree (machine.py);
the tree itself is never written after it is built. docs/aws-box.md lists each
difference from the real AMI.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("SWARMHUB_BOX_CACHE", "/var/cache/swarmhub-box"))
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
# systemd as PID 1 and what a cloud instance's boot needs before cloud-init.
BASE_PACKAGES = [
    "systemd-sysv",
    "dbus",
    "udev",
    "iproute2",
    "ca-certificates",
    "curl",
    "python3",
    "procps",
    "kmod",
]
# The worker cookbook's packages (cookbooks/swarmhub_worker/attributes/default.rb:
# docker, nfs, manager) and the AMI base's cloud-init; fuse-overlayfs because the
# box's machines share the host kernel.
WORKER_PACKAGES = ["docker.io", "nfs-common", "certbot", "cloud-init", "jq", "fuse-overlayfs"]
WORKER_FILES = REPO / "cookbooks" / "swarmhub_worker" / "files"
# Where the worker recipes install each of its files (recipes/*.rb `cookbook_file`).
FILE_DESTINATIONS = {
    "swarmhub-aws-credentials": "usr/local/sbin/swarmhub-aws-credentials",
    "swarmhub-manager-up": "usr/local/sbin/swarmhub-manager-up",
    "swarmhub-http-redirect": "usr/local/sbin/swarmhub-http-redirect",
    "swarmhub-join-until": "usr/local/sbin/swarmhub-join-until",
    "swarmhub-engine-label": "usr/local/sbin/swarmhub-engine-label",
    "swarmhub-efs-mount": "usr/local/sbin/swarmhub-efs-mount",
}
# cloud-init reads the box's IMDS as it reads EC2's (IMDSv2, 169.254.169.254).
CLOUD_CFG = """\
datasource_list: [ Ec2, None ]
datasource:
  Ec2:
    metadata_urls: [ "http://169.254.169.254" ]
    max_wait: 30
    timeout: 5
    strict_id: false
"""


class BoxError(Exception):
    """A box step failed; the message is one line for the operator."""


def run(argv: list[str], *, timeout: float, env: dict | None = None) -> None:
    """Run one tool, print its command, raise BoxError when it fails."""
    print("+", " ".join(argv), file=sys.stderr, flush=True)
    try:
        subprocess.run(argv, check=True, timeout=timeout, env=env)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
        raise BoxError(f"{argv[0]} failed: {err}") from None


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _files_digest() -> str:
    digest = hashlib.sha256()
    for name in sorted(FILE_DESTINATIONS):
        digest.update(name.encode() + (WORKER_FILES / name).read_bytes())
    digest.update(CLOUD_CFG.encode())
    return digest.hexdigest()


def base_tree() -> Path:
    """The debootstrap stage, built once per package list."""
    tree = CACHE / f"base-{_key(SUITE, MIRROR, BASE_PACKAGES)}"
    if (tree / ".done").exists():
        return tree
    partial = tree.with_name(tree.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    run(
        [
            "debootstrap",
            "--variant=minbase",
            "--include=" + ",".join(BASE_PACKAGES),
            SUITE,
            str(partial),
            MIRROR,
        ],
        timeout=1800,
    )
    (partial / ".done").write_text("")
    partial.rename(tree)
    return tree


def _chroot(tree: Path, argv: list[str], timeout: float) -> None:
    """Run `argv` in the tree with /proc, /sys and /dev mounted, unmounting after."""
    mounts = [
        ("proc", "proc", ["-t", "proc"]),
        ("sys", "sys", ["-t", "sysfs"]),
        ("dev", "dev", ["--bind"]),
    ]
    done = []
    try:
        for name, source, how in mounts:
            target = tree / name
            src = "/dev" if name == "dev" else source
            run(["mount", *how, src, str(target)], timeout=30)
            done.append(target)
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "DEBIAN_FRONTEND": "noninteractive",
            "LC_ALL": "C",
        }
        run(["chroot", str(tree), *argv], timeout=timeout, env=env)
    finally:
        for target in reversed(done):
            subprocess.run(["umount", "-l", str(target)], check=False, timeout=30)


def worker_tree() -> Path:
    """The finished image: base + worker packages + cookbook files + box settings."""
    base = base_tree()
    tree = CACHE / f"worker-{_key(base.name, WORKER_PACKAGES, _files_digest())}"
    if (tree / ".done").exists():
        return tree
    partial = tree.with_name(tree.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    run(["cp", "-a", "--reflink=auto", str(base), str(partial)], timeout=600)
    (partial / ".done").unlink()
    # No daemon may start inside the chroot while packages install.
    policy = partial / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    _chroot(partial, ["apt-get", "update"], timeout=600)
    _chroot(
        partial,
        ["apt-get", "install", "-y", "--no-install-recommends", *WORKER_PACKAGES],
        timeout=1800,
    )
    _chroot(partial, ["apt-get", "clean"], timeout=120)
    policy.unlink()
    for name, dest in FILE_DESTINATIONS.items():
        target = partial / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(WORKER_FILES / name, target)
        target.chmod(0o755)
    (partial / "etc/cloud/cloud.cfg.d/90-swarmhub-box.cfg").write_text(CLOUD_CFG)
    # A container has no consoles to log in on; networkd is not how EC2 does it.
    for unit in ("getty@tty1.service", "console-getty.service"):
        (partial / "etc/systemd/system" / unit).unlink(missing_ok=True)
        (partial / "etc/systemd/system" / unit).symlink_to("/dev/null")
    (partial / "etc/hostname").write_text("box\n")
    (partial / ".done").write_text("")
    partial.rename(tree)
    return tree
