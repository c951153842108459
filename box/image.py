"""The box's machine image: a Debian 12 tree that carries what the worker AMI carries.

Built in two cached stages under CACHE, each keyed by a hash of its inputs so a
change to the package list (or to the cookbook files copied in) builds anew:

1. `debootstrap` a minbase tree with systemd as init (the parts every machine needs);
2. in a chroot with /proc, /sys and /dev mounted, `apt-get install` the worker's
   packages (docker.io, nfs-common, certbot: the cookbook's attributes) and
   cloud-init. cloud-init fails to configure when it rides in debootstrap's
   --include (python3-cryptography needs /proc), hence the second step.
3. the worker cookbook's files and its templates rendered with its attributes
   (render.rb: Ruby's ERB, as Cinc renders them), installed where, with the
   mode, and enabled or disabled as its recipes say; the box's own settings
   (cloud-init's datasource, no getty, the box's AWS endpoints and their CA).
   This stage copies stage 2 and takes seconds, so a template change never
   re-runs apt.

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

from box import tls

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
# awscli: the AMI's comes from pip in a venv (swarmhub_common::awscli), Debian's here.
WORKER_PACKAGES = [
    "docker.io",
    "nfs-common",
    "certbot",
    "cloud-init",
    "jq",
    "fuse-overlayfs",
    "awscli",
]
COOKBOOK = REPO / "cookbooks" / "swarmhub_worker"
WORKER_FILES = COOKBOOK / "files"
RENDER = Path(__file__).resolve().parent / "render.rb"
# Where the worker recipes install each of its files (recipes/*.rb `cookbook_file`).
# swarm-join.sh is staged into files/ by the bake from swarmhub/node (join.rb).
FILE_SOURCES = {
    "swarmhub-aws-credentials": WORKER_FILES / "swarmhub-aws-credentials",
    "swarmhub-manager-up": WORKER_FILES / "swarmhub-manager-up",
    "swarmhub-http-redirect": WORKER_FILES / "swarmhub-http-redirect",
    "swarmhub-join-until": WORKER_FILES / "swarmhub-join-until",
    "swarmhub-engine-label": WORKER_FILES / "swarmhub-engine-label",
    "swarmhub-efs-mount": WORKER_FILES / "swarmhub-efs-mount",
    "swarm-join.sh": REPO / "swarmhub" / "node" / "swarm-join.sh",
}
FILE_DESTINATIONS = {name: f"usr/local/sbin/{name}" for name in FILE_SOURCES}
UNITS = "etc/systemd/system"
_MGR = "swarmhub.manager."
# The worker recipes' `template` resources: source, destination, mode, and each
# variable as the node attribute it is set from (recipes/*.rb, in order), with
# the recipe's `service` action for units (enable / disable).
TEMPLATES = [
    # docker.rb
    ("daemon.json.erb", "etc/docker/daemon.json", 0o644,
     {"log_max_size": "swarmhub.docker.log_max_size",
      "log_max_file": "swarmhub.docker.log_max_file"}, None),
    # engine_label.rb
    ("swarmhub-engine-label.service.erb", f"{UNITS}/swarmhub-engine-label.service", 0o644,
     {"script": "swarmhub.engine_label.script"}, "enable"),
    # efs.rb
    ("swarmhub-efs.service.erb", f"{UNITS}/swarmhub-efs.service", 0o644,
     {"script": "swarmhub.efs.script", "env_file": "swarmhub.join.env_file",
      "timeout": "swarmhub.efs.timeout"}, "enable"),
    # join.rb
    ("swarmhub-join.service.erb", f"{UNITS}/swarmhub-join.service", 0o644,
     {"script": "swarmhub.join.script", "wrapper": "swarmhub.join.wrapper",
      "env_file": "swarmhub.join.env_file", "timeout": "swarmhub.join.timeout"}, "disable"),
    # manager.rb (images.env.erb is not rendered: the box carries no images yet)
    ("swarmhub-hub.service.erb", f"{UNITS}/swarmhub-hub.service", 0o644,
     {"script": _MGR + "script", "env_file": _MGR + "env_file",
      "images_env": _MGR + "images_env"}, "disable"),
    ("swarmhub-lifecycle.service.erb", f"{UNITS}/swarmhub-lifecycle.service", 0o644,
     {"env_file": _MGR + "env_file", "images_env": _MGR + "images_env",
      "hub_config": _MGR + "hub_config", "credentials_dir": _MGR + "credentials_dir"}, "disable"),
    ("swarmhub-aws-credentials.service.erb", f"{UNITS}/swarmhub-aws-credentials.service", 0o644,
     {"script": _MGR + "credentials_script"}, "disable"),
    ("swarmhub-aws-credentials.timer.erb", f"{UNITS}/swarmhub-aws-credentials.timer", 0o644,
     {"script": _MGR + "credentials_script"}, "disable"),
    ("swarmhub-http-redirect.service.erb", f"{UNITS}/swarmhub-http-redirect.service", 0o644,
     {"script": _MGR + "http_script", "env_file": _MGR + "env_file",
      "webroot": _MGR + "acme_webroot"}, "disable"),
    ("swarmhub-hub-sync.service.erb", f"{UNITS}/swarmhub-hub-sync.service", 0o644,
     {"env_file": _MGR + "env_file"}, "disable"),
    ("swarmhub-hub-sync.timer.erb", f"{UNITS}/swarmhub-hub-sync.timer", 0o644,
     {"env_file": _MGR + "env_file"}, "disable"),
    # cinc_client.rb
    ("client.rb.erb", "etc/cinc/client.rb", 0o644,
     {"config_dir": "swarmhub.enroll.config_dir"}, None),
    ("swarmhub-enroll.sh.erb", "usr/local/sbin/swarmhub-enroll", 0o755,
     {"config_dir": "swarmhub.enroll.config_dir", "env_file": "swarmhub.enroll.env_file"}, None),
    ("swarmhub-enroll.service.erb", f"{UNITS}/swarmhub-enroll.service", 0o644,
     {"script": "swarmhub.enroll.script", "env_file": "swarmhub.enroll.env_file",
      "timeout": "swarmhub.enroll.timeout"}, "disable"),
]  # fmt: skip
# Directories the recipes create (join.rb, manager.rb, cinc_client.rb).
DIRECTORIES = ["etc/swarmhub", "etc/cinc", "etc/cinc/trusted_certs", "etc/docker"]
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
    for name in sorted(FILE_SOURCES):
        digest.update(name.encode() + FILE_SOURCES[name].read_bytes())
    for path in sorted((COOKBOOK / "templates").glob("*.erb")) + [
        COOKBOOK / "attributes" / "default.rb",
        RENDER,
        Path(__file__),
    ]:
        digest.update(path.name.encode() + path.read_bytes())
    digest.update(CLOUD_CFG.encode())
    return digest.hexdigest()


def render_templates() -> dict[str, str]:
    """Every template of TEMPLATES rendered by render.rb: {destination: text}."""
    request = {
        "attributes": [str(COOKBOOK / "attributes" / "default.rb")],
        "templates": [
            {"source": str(COOKBOOK / "templates" / src), "variables": variables}
            for src, _dest, _mode, variables, _action in TEMPLATES
        ],
    }
    try:
        done = subprocess.run(
            ["ruby", str(RENDER)],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
        detail = getattr(err, "stderr", "") or str(err)
        raise BoxError(f"rendering the cookbook's templates failed: {detail.strip()}") from None
    rendered = json.loads(done.stdout)
    return {dest: rendered[str(COOKBOOK / "templates" / src)] for src, dest, *_ in TEMPLATES}


def _wanted_by(text: str) -> list[str]:
    """The [Install] WantedBy= targets of a unit's text (what `systemctl enable` links)."""
    wanted, section = [], ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Install]" and line.startswith("WantedBy="):
            wanted += line.split("=", 1)[1].split()
    return wanted


def install_cookbook(tree: Path) -> None:
    """The worker recipes' files, templates and unit states, in an image tree."""
    for rel in DIRECTORIES:
        (tree / rel).mkdir(parents=True, exist_ok=True)
        (tree / rel).chmod(0o755)
    for name, dest in FILE_DESTINATIONS.items():
        target = tree / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(FILE_SOURCES[name], target)
        target.chmod(0o755)
    rendered = render_templates()
    for _src, dest, mode, _variables, action in TEMPLATES:
        target = tree / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(rendered[dest])
        target.chmod(mode)
        unit = Path(dest).name
        for wanted in _wanted_by(rendered[dest]):
            link = tree / UNITS / f"{wanted}.wants" / unit
            link.unlink(missing_ok=True)
            if action == "enable":
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(f"/{dest}")


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


def _derived(tree: Path, source: Path, build) -> Path:
    """A stage made from a copy of `source` by build(partial), cached at `tree`."""
    if (tree / ".done").exists():
        return tree
    partial = tree.with_name(tree.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    run(["cp", "-a", "--reflink=auto", str(source), str(partial)], timeout=600)
    (partial / ".done").unlink()
    build(partial)
    (partial / ".done").write_text("")
    partial.rename(tree)
    return tree


def _install_packages(partial: Path) -> None:
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


def packages_tree() -> Path:
    """Stage 2: the base with the worker's packages, built once per package list."""
    base = base_tree()
    return _derived(CACHE / f"packages-{_key(base.name, WORKER_PACKAGES)}", base, _install_packages)


def worker_tree() -> Path:
    """The finished image: packages + the cookbook's files and templates + box settings."""
    packages = packages_tree()
    tree = CACHE / f"worker-{_key(packages.name, _files_digest(), tls.digest())}"
    return _derived(tree, packages, _finish)


def _finish(partial: Path) -> None:
    install_cookbook(partial)
    tls.install(partial)
    (partial / "etc/cloud/cloud.cfg.d/90-swarmhub-box.cfg").write_text(CLOUD_CFG)
    # A container has no consoles to log in on; networkd is not how EC2 does it.
    for unit in ("getty@tty1.service", "console-getty.service"):
        (partial / "etc/systemd/system" / unit).unlink(missing_ok=True)
        (partial / "etc/systemd/system" / unit).symlink_to("/dev/null")
    (partial / "etc/hostname").write_text("box\n")
