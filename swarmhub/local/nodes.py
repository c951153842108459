"""Local worker nodes: the twin of EC2 instances from the worker AMI.

A node is a second dockerd in its own network namespace, on one Linux bridge
and one subnet with the others (one "VPC subnet"), with no default route:
nothing of a node leaves the swarm subnet, so a registry pull fails at once
instead of hanging. It gets the images with `docker save | docker load` (the
twin of images pre-pulled into the AMI) and joins the swarm by running the very
join script AWS user-data runs (swarmhub/node/swarm-join.sh).

dockerd is started with `nsenter --net=...`, not `ip netns exec`, which would
hide the cgroup mounts from it.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from swarmhub.config import Config
from swarmhub.errors import SwarmhubError
from swarmhub.local import engine
from swarmhub.local.paths import paths
from swarmhub.run import echo, run
from swarmhub.swarm import labels

BRIDGE = "swarmhub0"
JOIN_SCRIPT = Path(__file__).resolve().parent.parent / "node" / "swarm-join.sh"
RUN_DIR = Path("/run/swarmhub")
_FIRST_NODE_HOST = 10  # .1 is the manager (the host), nodes from .11 on
_READY_TIMEOUT = 90.0
_DOCKERD_TIMEOUT = 120.0


@dataclass(frozen=True)
class LocalNode:
    name: str  # w1, w2, ...
    index: int
    address: str
    boot: str = ""  # unique per start, like an EC2 instance id: names are reused, ids not

    @property
    def instance_id(self) -> str:
        return f"local-{self.name}-{self.boot}" if self.boot else f"local-{self.name}"

    @property
    def netns(self) -> str:
        return f"swarmhub-{self.name}"

    @property
    def veth(self) -> str:
        return f"shv-{self.name}"[:15]

    @property
    def exec_root(self) -> Path:
        return RUN_DIR / self.name

    @property
    def socket(self) -> str:
        return str(self.exec_root / "docker.sock")

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def pidfile(self) -> Path:
        return self.exec_root / "docker.pid"


def manager_address(cfg: Config) -> str:
    net = ipaddress.ip_network(cfg.local.node_subnet)
    return str(net.network_address + 1)


def _node(cfg: Config, index: int) -> LocalNode:
    net = ipaddress.ip_network(cfg.local.node_subnet)
    address = net.network_address + _FIRST_NODE_HOST + index
    if address not in net or address == net.broadcast_address:
        raise SwarmhubError(f"local.node_subnet {net} has no room for node {index}")
    return LocalNode(name=f"w{index}", index=index, address=str(address))


def _data_dir(cfg: Config, node: LocalNode) -> Path:
    return paths(cfg).nodes / node.name


# --- the bridge (the subnet every node is on) -------------------------------


def ensure_bridge(cfg: Config) -> str:
    """The host end of the node subnet; its address is the manager's."""
    net = ipaddress.ip_network(cfg.local.node_subnet)
    addr = f"{manager_address(cfg)}/{net.prefixlen}"
    if run(["ip", "link", "show", BRIDGE], check=False, capture=True, quiet=True).returncode:
        run(["ip", "link", "add", BRIDGE, "type", "bridge"])
    shown = run(["ip", "-o", "addr", "show", "dev", BRIDGE], capture=True, quiet=True).stdout
    if addr not in shown:
        run(["ip", "addr", "add", addr, "dev", BRIDGE])
    run(["ip", "link", "set", BRIDGE, "up"], quiet=True)
    # Docker's FORWARD policy is DROP; frames between nodes cross the bridge.
    rule = ["FORWARD", "-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT"]
    if run(["iptables", "-C", *rule], check=False, capture=True, quiet=True).returncode:
        run(["iptables", "-I", *rule])
    return manager_address(cfg)


def remove_bridge() -> None:
    rule = ["FORWARD", "-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT"]
    while not run(["iptables", "-C", *rule], check=False, capture=True, quiet=True).returncode:
        run(["iptables", "-D", *rule], quiet=True)
    run(["ip", "link", "del", BRIDGE], check=False, capture=True, quiet=True)


# --- listing ------------------------------------------------------------------


def list_nodes(cfg: Config) -> list[LocalNode]:
    """Nodes that have a data directory: started and not yet removed."""
    root = paths(cfg).nodes
    if not root.is_dir():
        return []
    out = []
    for child in sorted(root.iterdir()):
        meta = child / "node.json"
        if meta.exists():
            out.append(LocalNode(**json.loads(meta.read_text())))
    return sorted(out, key=lambda n: n.index)


def pid_alive(pidfile: Path) -> bool:
    """Whether the process a pidfile names is running."""
    try:
        os.kill(int(pidfile.read_text()), 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return False
    return True


def dockerd_alive(node: LocalNode) -> bool:
    return pid_alive(node.pidfile)


def next_free(cfg: Config, exclude: set[str] = frozenset()) -> LocalNode:
    """The lowest free node; `exclude` names nodes still booting or being torn down."""
    used = {n.index for n in list_nodes(cfg)} | {int(name[1:]) for name in exclude}
    index = 1
    while index in used:
        index += 1
    return _node(cfg, index)


# --- start --------------------------------------------------------------------


def start(cfg: Config, images: list[str], node: LocalNode | None = None) -> LocalNode:
    """Start one node, load the images into it and join it to the swarm.

    On failure, everything this call made is removed again.
    """
    import dataclasses
    import secrets

    node = node or next_free(cfg)
    if not node.boot:
        node = dataclasses.replace(node, boot=secrets.token_hex(3))
    echo(f"node {node.name}: starting ({node.address}, {node.instance_id})")
    try:
        _seed(cfg, node, images)
        _start_dockerd(cfg, node)
        _load_images(cfg, node, images)  # a no-op when the seed had them
        _join(cfg, node)
    except BaseException:
        echo(f"node {node.name}: start failed, removing what was made")
        _teardown(cfg, node)
        raise
    return node


def _start_dockerd(cfg: Config, node: LocalNode) -> None:
    data = _data_dir(cfg, node)
    data.mkdir(parents=True, exist_ok=True)
    (data / "node.json").write_text(
        json.dumps(
            {"name": node.name, "index": node.index, "address": node.address, "boot": node.boot}
        )
    )
    prefix = ipaddress.ip_network(cfg.local.node_subnet).prefixlen
    if run(["ip", "netns", "pids", node.netns], check=False, capture=True, quiet=True).returncode:
        run(["ip", "netns", "add", node.netns])
    if run(["ip", "link", "show", node.veth], check=False, capture=True, quiet=True).returncode:
        run(
            [
                "ip",
                "link",
                "add",
                node.veth,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                node.netns,
            ]
        )
    run(["ip", "link", "set", node.veth, "master", BRIDGE, "up"])
    ns = ["ip", "-n", node.netns]
    shown = run([*ns, "-o", "addr", "show", "dev", "eth0"], capture=True, quiet=True).stdout
    if f"{node.address}/" not in shown:
        run([*ns, "addr", "add", f"{node.address}/{prefix}", "dev", "eth0"])
    run([*ns, "link", "set", "eth0", "up"])
    run([*ns, "link", "set", "lo", "up"])
    # Deliberately no default route: see the module docstring.

    if dockerd_alive(node):
        return
    node.exec_root.mkdir(parents=True, exist_ok=True)
    log = open(data / "dockerd.log", "ab")  # noqa: SIM115 - handed to the daemon
    args = [
        "nsenter",
        f"--net=/run/netns/{node.netns}",
        "dockerd",
        "--data-root", str(data / "docker"),
        "--exec-root", str(node.exec_root),
        "--host", node.docker_host,
        "--pidfile", str(node.pidfile),
        "--storage-driver", "overlay2",
        "--label", f"{labels.INSTANCE_ID}={node.instance_id}",
    ]  # fmt: skip
    echo("+ " + " ".join(args))
    subprocess.Popen(  # noqa: S603 - fixed argument list
        args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
    )
    log.close()
    deadline = time.monotonic() + _DOCKERD_TIMEOUT
    while time.monotonic() < deadline:
        if engine.is_up(node.socket):
            return
        time.sleep(0.3)
    # Say why here: teardown removes the log with the rest of the node.
    lines = (data / "dockerd.log").read_text(errors="replace").strip().splitlines()[-3:]
    raise SwarmhubError(
        f"node {node.name}: dockerd did not start in {_DOCKERD_TIMEOUT:.0f}s: " + " | ".join(lines)
    )


def _golden(cfg: Config, images: list[str]) -> Path:
    """A data-root holding `images`, made once: the local twin of the baked AMI.

    A throwaway dockerd (no networking of its own) loads the images and stops;
    nodes then start from a hard-linked copy of its data-root, which overlay2
    shares safely (image layers are read-only lower directories).
    """
    import hashlib

    key = hashlib.sha256("\n".join(sorted(images)).encode()).hexdigest()[:12]
    root = paths(cfg).state / "golden" / key
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
    with open(root / "dockerd.log", "ab") as log:
        proc = subprocess.Popen(  # noqa: S603 - fixed argument list
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
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Temporary: it stays in its parent's process group and dies with it.
        )
    try:
        deadline = time.monotonic() + 60
        while not engine.is_up(str(sock)):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SwarmhubError("the golden data-root's dockerd did not start")
            time.sleep(0.3)
        fake = LocalNode(name=f"golden-{key}", index=0, address="")
        _load_images(cfg, fake, images, docker_host=f"unix://{sock}")
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        _umount_below(exec_root)
        shutil.rmtree(exec_root, ignore_errors=True)
        run(["ip", "netns", "del", netns], check=False, capture=True, quiet=True)
    (root / "complete").write_text("")
    return root / "docker"


def _seed(cfg: Config, node: LocalNode, images: list[str]) -> None:
    target = _data_dir(cfg, node) / "docker"
    if target.exists():
        return
    golden = _golden(cfg, images)
    target.mkdir(parents=True)
    # Only the image store is shared: layers are read-only, and dockerd replaces
    # its metadata files by rename, which breaks the link. Everything else
    # (containerd's and the volume store's databases, which are locked files,
    # the engine id, swarm and network state) is per node and made afresh.
    for part in ("image", "overlay2"):
        if (golden / part).exists():
            run(["cp", "-al", golden / part, target / part], quiet=True)


def _load_images(
    cfg: Config, node: LocalNode, images: list[str], docker_host: str | None = None
) -> None:
    import docker

    cli = engine.build_cli()
    host = docker_host or node.docker_host
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


def _join(cfg: Config, node: LocalNode) -> None:
    token_file = paths(cfg).secrets / "worker-join-token"
    run(
        ["sh", str(JOIN_SCRIPT)],
        env={
            "DOCKER_HOST": node.docker_host,
            "SWARMHUB_MANAGER_ADDR": manager_address(cfg),
            "SWARMHUB_JOIN_TOKEN_FILE": str(token_file),
            "SWARMHUB_ADVERTISE_ADDR": node.address,
            "SWARMHUB_JOIN_ATTEMPTS": "6",
        },
    )
    wait_ready(node)


def swarm_node_id(node: LocalNode) -> str:
    import docker

    info = docker.DockerClient(base_url=node.docker_host, timeout=10).info()
    return info["Swarm"]["NodeID"]


def wait_ready(node: LocalNode, timeout: float = _READY_TIMEOUT) -> str:
    """Wait until the manager sees the node Ready; return its swarm node id."""
    api = engine.client().api
    node_id = swarm_node_id(node)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.inspect_node(node_id)["Status"]["State"] == "ready":
            return node_id
        time.sleep(0.5)
    raise SwarmhubError(f"node {node.name} joined but is not Ready after {timeout:.0f}s")


# --- removal ------------------------------------------------------------------


def remove(cfg: Config, node: LocalNode, *, drain_timeout: float = 60.0) -> None:
    """Drain the node, leave the swarm, remove it, and clean up namespace and data."""
    import docker

    node_id = None
    if dockerd_alive(node):
        try:
            node_id = swarm_node_id(node)
        except docker.errors.DockerException:
            node_id = None
    else:
        # A dead node cannot leave by itself: the manager removes it by force,
        # found by its instance label, so it does not linger as Down.
        for stale in _swarm_nodes_of(node):
            _node_rm(engine.client().api, stale)
    if node_id:
        try:
            drain(node_id)
        except docker.errors.APIError:
            pass  # the manager forgot it (removed by force), or there is no swarm
        else:
            deadline = time.monotonic() + drain_timeout
            while time.monotonic() < deadline and tasks_on(node_id):
                time.sleep(1)
        try:
            docker.DockerClient(base_url=node.docker_host, timeout=30).swarm.leave(force=True)
        except docker.errors.DockerException:
            pass
        _node_rm(engine.client().api, node_id)
    _teardown(cfg, node)


def _swarm_nodes_of(node: LocalNode) -> list[str]:
    import docker

    try:
        listed = engine.client().api.nodes()
    except docker.errors.APIError:
        return []  # no swarm
    return [
        n["ID"]
        for n in listed
        if n["Description"].get("Engine", {}).get("Labels", {}).get(labels.INSTANCE_ID)
        == node.instance_id  # unique per boot, so never a replacement's
    ]


def drain(node_id: str) -> None:
    from swarmhub.swarm.state import set_availability

    set_availability(engine.client().api, node_id, "drain")


def tasks_on(node_id: str) -> list[dict]:
    api = engine.client().api
    return [
        t
        for t in api.tasks(filters={"node": node_id, "desired-state": "running"})
        if t["Status"]["State"] in ("running", "starting", "preparing", "assigned", "accepted")
    ]


def _node_rm(api, node_id: str) -> None:
    import docker

    # The manager needs a moment to see a node that left as down.
    for _ in range(20):
        try:
            api.remove_node(node_id, force=True)
            return
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if exc.status_code == 503:  # no swarm here any more: nothing to remove
                return
            time.sleep(0.5)


def kill_hard(node: LocalNode) -> None:
    """The twin of an instance vanishing: no drain, no leave (for tests)."""
    import docker

    pids = []
    try:
        client = docker.DockerClient(base_url=node.docker_host, timeout=10)
        pids = [c.attrs["State"]["Pid"] for c in client.containers.list()]
    except docker.errors.DockerException:
        pass
    ns_pids = run(["ip", "netns", "pids", node.netns], check=False, capture=True, quiet=True)
    pids += [int(p) for p in ns_pids.stdout.split()]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    run(["ip", "link", "set", node.veth, "down"], check=False, quiet=True)


def _teardown(cfg: Config, node: LocalNode) -> None:
    """Stop dockerd and remove the node's namespace, link and data. Idempotent."""
    if dockerd_alive(node):
        pid = int(node.pidfile.read_text())
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and dockerd_alive(node):
            time.sleep(0.2)
        if dockerd_alive(node):
            os.kill(pid, signal.SIGKILL)
    # Anything left in the namespace (containerd, shims) goes with it.
    left = run(["ip", "netns", "pids", node.netns], check=False, capture=True, quiet=True)
    for pid in left.stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    data = _data_dir(cfg, node)
    for root in (node.exec_root, data):
        _umount_below(root)
    run(["ip", "link", "del", node.veth], check=False, capture=True, quiet=True)
    run(["ip", "netns", "del", node.netns], check=False, capture=True, quiet=True)
    shutil.rmtree(node.exec_root, ignore_errors=True)
    shutil.rmtree(data, ignore_errors=True)


def _umount_below(root: Path) -> None:
    prefix = str(root).rstrip("/") + "/"
    with open("/proc/self/mounts") as f:
        points = [line.split()[1] for line in f]
    for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
        run(["umount", "-l", point], check=False, capture=True, quiet=True)
