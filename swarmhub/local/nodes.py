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
import re
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from swarmhub.config import Config
from swarmhub.errors import SwarmhubError
from swarmhub.local import engine, golden
from swarmhub.local.bridge import BRIDGE, manager_address
from swarmhub.local.golden import RUN_DIR
from swarmhub.local.paths import paths
from swarmhub.run import echo, run, start_daemon
from swarmhub.swarm import labels
from swarmhub.swarm import nodes as swarm_nodes
from swarmhub.swarm.state import instance_id_of

JOIN_SCRIPT = Path(__file__).resolve().parent.parent / "node" / "swarm-join.sh"
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


def _node(cfg: Config, index: int) -> LocalNode:
    net = ipaddress.ip_network(cfg.local.node_subnet)
    address = net.network_address + _FIRST_NODE_HOST + index
    if address not in net or address == net.broadcast_address:
        raise SwarmhubError(f"local.node_subnet {net} has no room for node {index}")
    return LocalNode(name=f"w{index}", index=index, address=str(address))


# In a node's data directory while a process starts it: that process's pid.
STARTING = "starting.pid"


def _data_dir(cfg: Config, node: LocalNode) -> Path:
    return paths(cfg).nodes / node.name


# --- listing ------------------------------------------------------------------


def list_nodes(cfg: Config) -> list[LocalNode]:
    """Nodes that have a data directory: started and not yet removed."""
    root = paths(cfg).nodes
    if not root.is_dir():
        return []
    out = []
    for child in sorted(root.iterdir()):
        if child.name.startswith("."):  # a node being removed (see _teardown)
            continue
        meta = child / "node.json"
        if meta.exists():
            out.append(LocalNode(**json.loads(meta.read_text())))
    return sorted(out, key=lambda n: n.index)


def pid_alive(pidfile: Path) -> bool:
    """Whether the process a pidfile names is running (a zombie is not).

    A dockerd the pool agent started is the agent's child: killed, it stays a
    zombie until reaped, and `kill(pid, 0)` still succeeds on a zombie, so the
    agent would keep a dead node forever. Reap it if it is ours.
    """
    try:
        pid = int(pidfile.read_text())
    except (FileNotFoundError, ValueError):
        return False
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def dockerd_alive(node: LocalNode) -> bool:
    return pid_alive(node.pidfile)


def next_free(cfg: Config, exclude: set[str] = frozenset()) -> LocalNode:
    """The lowest free node; `exclude` names nodes still booting or being torn down."""
    used = {n.index for n in list_nodes(cfg)} | {int(name[1:]) for name in exclude}
    # A node's directory made before its node.json (a start under way in
    # another process) takes its name too.
    root = paths(cfg).nodes
    if root.is_dir():
        used |= {int(c.name[1:]) for c in root.iterdir() if re.fullmatch(r"w\d+", c.name)}
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
    marker = _data_dir(cfg, node) / STARTING
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(str(os.getpid()))
        golden.seed(cfg, _data_dir(cfg, node), images)
        _start_dockerd(cfg, node)
        golden.load_images(cfg, images, node.docker_host)  # a no-op when the seed had them
        _join(cfg, node)
        marker.unlink()
    except BaseException:
        echo(f"node {node.name}: start failed, removing what was made")
        _teardown(cfg, node)
        raise
    return node


def starting(cfg: Config, node: LocalNode) -> bool:
    """Whether a live process (the pool agent, a test, `deploy`) is starting the
    node: its dockerd is not up yet, but it is not a dead node either."""
    return pid_alive(_data_dir(cfg, node) / STARTING)


def resume(cfg: Config, node: LocalNode) -> str:
    """Start a node's dockerd again on its data-root (after a reboot): its swarm
    membership is in there, so it rejoins as the same node. Its swarm node id."""
    _start_dockerd(cfg, node)
    return wait_ready(node)


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
    start_daemon(args, log=data / "dockerd.log")
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
            swarm_nodes.remove(engine.client().api, stale)
    if node_id:
        api = engine.client().api
        try:
            swarm_nodes.set_availability(api, node_id, "drain")
        except docker.errors.APIError:
            pass  # the manager forgot it (removed by force), or there is no swarm
        else:
            # A node the manager sees down (its network cut) cannot move anything:
            # its tasks stay "running" in the manager's books, so don't wait.
            ready = swarm_nodes.is_ready(api, node_id)
            deadline = time.monotonic() + (drain_timeout if ready else 0)
            while time.monotonic() < deadline and swarm_nodes.user_servers_on(api, node_id):
                time.sleep(1)
        try:
            docker.DockerClient(base_url=node.docker_host, timeout=30).swarm.leave(force=True)
        except docker.errors.DockerException:
            pass
        swarm_nodes.remove(api, node_id)
    _teardown(cfg, node)


def _swarm_nodes_of(node: LocalNode) -> list[str]:
    import docker

    try:
        listed = engine.client().api.nodes()
    except docker.errors.APIError:
        return []  # no swarm
    # The instance id is unique per boot, so never a replacement's.
    return [n["ID"] for n in listed if instance_id_of(n) == node.instance_id]


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
        golden.umount_below(root)
    run(["ip", "link", "del", node.veth], check=False, capture=True, quiet=True)
    run(["ip", "netns", "del", node.netns], check=False, capture=True, quiet=True)
    shutil.rmtree(node.exec_root, ignore_errors=True)
    # Out of the way in one step, then removed: a data-root takes seconds to
    # delete, and a node started meanwhile under the same name (by the pool
    # agent, or a test) would lose its files to the rmtree.
    tomb = data.with_name(f".removing-{data.name}-{os.getpid()}-{time.monotonic_ns()}")
    try:
        data.rename(tomb)
    except FileNotFoundError:
        return
    except OSError:
        tomb = data
    shutil.rmtree(tomb, ignore_errors=True)
