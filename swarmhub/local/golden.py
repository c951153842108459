"""Images into local nodes without a registry: the local twin of the baked AMI.

A node starts from a golden data-root that holds the images (made once per
set of images by a throwaway dockerd that `docker load`s them), hard-linked
into the node's own data-root; `load_images` tops a node up if anything is
missing.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

from swarmhub.config import Config
from swarmhub.errors import SwarmhubError
from swarmhub.local import engine
from swarmhub.local.paths import paths
from swarmhub.run import echo, run, start_daemon

RUN_DIR = Path("/run/swarmhub")


def golden(cfg: Config, images: list[str]) -> Path:
    """A data-root holding `images`, made once: the local twin of the baked AMI.

    A throwaway dockerd (no networking of its own) loads the images and stops;
    nodes then start from a hard-linked copy of its data-root, which overlay2
    shares safely (image layers are read-only lower directories).
    """
    key = hashlib.sha256("\n".join(sorted(images)).encode()).hexdigest()[:12]
    root = paths(cfg).golden / key
    if (root / "complete").exists():
        return root / "docker"
    shutil.rmtree(root, ignore_errors=True)
    exec_root = RUN_DIR / f"golden-{key}"
    exec_root.mkdir(parents=True, exist_ok=True)
    sock = exec_root / "docker.sock"
    root.mkdir(parents=True)
    echo(f"golden data-root {key}: loading {', '.join(images)}")
    # A namespace of its own: a dockerd without a bridge deletes `docker0` in
    # the namespace it starts in, which must never be the host's.
    netns = f"swarmhub-golden-{key}"
    run(["ip", "netns", "add", netns], check=False, capture=True, quiet=True)
    # Temporary: it stays in its parent's process group and dies with it.
    proc = start_daemon(
        [
            "nsenter",
            f"--net=/run/netns/{netns}",
            "dockerd",
            "--data-root",
            str(root / "docker"),
            "--exec-root",
            str(exec_root),
            "--host",
            f"unix://{sock}",
            "--pidfile",
            str(exec_root / "docker.pid"),
            "--storage-driver",
            "overlay2",
            "--bridge",
            "none",
            "--iptables=false",
            "--ip-masq=false",
        ],  # fmt: skip
        log=root / "dockerd.log",
        detach=False,
    )
    try:
        deadline = time.monotonic() + 60
        while not engine.is_up(str(sock)):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SwarmhubError("the golden data-root's dockerd did not start")
            time.sleep(0.3)
        load_images(cfg, images, docker_host=f"unix://{sock}")
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        umount_below(exec_root)
        shutil.rmtree(exec_root, ignore_errors=True)
        run(["ip", "netns", "del", netns], check=False, capture=True, quiet=True)
    (root / "complete").write_text("")
    return root / "docker"


def seed(cfg: Config, data_dir: Path, images: list[str]) -> None:
    """A node's data-root (`data_dir`/docker) holding `images`, from the golden one."""
    target = data_dir / "docker"
    if target.exists():
        return
    root = golden(cfg, images)
    target.mkdir(parents=True)
    # Only the image store is shared: layers are read-only, and dockerd replaces
    # its metadata files by rename, which breaks the link. Everything else
    # (containerd's and the volume store's databases, which are locked files,
    # the engine id, swarm and network state) is per node and made afresh.
    for part in ("image", "overlay2"):
        if (root / part).exists():
            run(["cp", "-al", root / part, target / part], quiet=True)


def load_images(cfg: Config, images: list[str], docker_host: str) -> None:
    """`docker save | docker load` of each image the engine at `docker_host` lacks."""
    import docker

    cli = engine.build_cli()
    host = docker_host
    node_client = docker.DockerClient(base_url=host, timeout=300)
    cache = paths(cfg).image_cache
    cache.mkdir(parents=True, exist_ok=True)
    for image in images:
        try:
            node_client.images.get(image)
            continue
        except docker.errors.ImageNotFound:
            pass
        tarball = cache / (image.replace("/", "_").replace(":", "_") + ".tar")
        if not tarball.exists():
            tmp = tarball.with_suffix(".tmp")
            run([cli, "save", "-o", tmp, image])
            tmp.rename(tarball)
        run([cli, "-H", host, "load", "-q", "-i", tarball])


def umount_below(root: Path) -> None:
    prefix = str(root).rstrip("/") + "/"
    with open("/proc/self/mounts") as f:
        points = [line.split()[1] for line in f]
    for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
        run(["umount", "-l", point], check=False, capture=True, quiet=True)
