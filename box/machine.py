"""One of the box's machines: systemd-nspawn booting the image's tree as an instance.

Each machine is systemd as PID 1 in its own namespaces, on a copy-on-write
overlay of the image (its writes stay in its own directory), with one veth on
the box's bridge carrying the instance's private address. Docker inside keeps
its data on a plain host directory (overlay2 cannot sit on an overlay root).
docs/decisions/0070-box-machines.md says why nspawn and not qemu.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from box.image import BoxError, run

STATE = Path(os.environ.get("SWARMHUB_BOX_STATE", "/var/lib/swarmhub-box"))
# cloud-init must not rewrite the network the box gives the machine
# (EC2 hands it out by DHCP; the box, statically, see networkd below).
# The minbase image has no en_US locale for cloud-init's default to select.
CLOUD_NETWORK = "network: {config: disabled}\nlocale: C.UTF-8\n"
# cloud-init tells EC2 by its DMI or /sys/hypervisor uuid, neither of which a
# container has (it ignores DMI in a container); unknown, it would skip IMDSv2
# tokens and the box's metadata service would refuse it (and it would try
# DHCP). So the machine's copy of the Ec2 datasource is told it is on AWS: the
# one change the box makes to cloud-init (docs/aws-box.md).
EC2_DATASOURCE = "usr/lib/python3/dist-packages/cloudinit/sources/DataSourceEc2.py"
EC2_IDENTITY = """

# swarmhub box: this machine is the box's stand-in for an EC2 instance.
_box_identify_platform = identify_platform


def identify_platform():  # noqa: F811
    if os.path.exists("/etc/swarmhub-box/ec2"):
        return CloudNames.AWS
    return _box_identify_platform()


# The box configures the network before cloud-init (no DHCP), so the local
# stage's ephemeral DHCP has nothing to do: only the network stage's datasource.
datasources = [(DataSourceEc2, (sources.DEP_FILESYSTEM, sources.DEP_NETWORK))]
"""


@dataclass
class Machine:
    """A booted (or booting) machine for one instance."""

    instance_id: str
    private_ip: str
    prefix: int
    gateway: str
    dir: Path
    pid: int = 0

    @property
    def name(self) -> str:
        return "box-" + self.instance_id.removeprefix("i-")[:10]

    @property
    def root(self) -> Path:
        return self.dir / "root"


def _network_file(private_ip: str, prefix: int, gateway: str) -> str:
    return (
        "[Match]\nName=host0\n\n[Network]\n"
        f"Address={private_ip}/{prefix}\nGateway={gateway}\nLinkLocalAddressing=no\n"
        "IPv6AcceptRA=no\n"
    )


def prepare(tree: Path, instance_id: str, private_ip: str, cidr: str) -> Machine:
    """Mount the machine's overlay root and write what differs per instance."""
    net = ipaddress.ip_network(cidr, strict=False)
    gateway = str(next(net.hosts()))
    machine = Machine(instance_id, private_ip, net.prefixlen, gateway, STATE / instance_id)
    for sub in ("upper", "work", "root", "docker"):
        (machine.dir / sub).mkdir(parents=True, exist_ok=True)
    options = f"lowerdir={tree},upperdir={machine.dir / 'upper'},workdir={machine.dir / 'work'}"
    if not os.path.ismount(machine.root):
        run(["mount", "-t", "overlay", "overlay", "-o", options, str(machine.root)], timeout=30)
    root = machine.root
    (root / "etc/systemd/network").mkdir(parents=True, exist_ok=True)
    (root / "etc/systemd/network/10-box.network").write_text(
        _network_file(private_ip, net.prefixlen, gateway)
    )
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    link = wants / "systemd-networkd.service"
    if not link.is_symlink():
        link.symlink_to("/lib/systemd/system/systemd-networkd.service")
    _cgroup_make(machine)
    (root / "etc/systemd/system/swarmhub-box-cgroups.service").write_text(cgroup_unit())
    sysinit = root / "etc/systemd/system/sysinit.target.wants"
    sysinit.mkdir(parents=True, exist_ok=True)
    if not (sysinit / "swarmhub-box-cgroups.service").is_symlink():
        (sysinit / "swarmhub-box-cgroups.service").symlink_to(
            "/etc/systemd/system/swarmhub-box-cgroups.service"
        )
    (root / "etc/cloud/cloud.cfg.d/91-swarmhub-box-network.cfg").write_text(CLOUD_NETWORK)
    (root / "etc/swarmhub-box").mkdir(exist_ok=True)
    (root / "etc/swarmhub-box/ec2").write_text(instance_id + "\n")
    datasource = root / EC2_DATASOURCE
    if "swarmhub box" not in datasource.read_text():
        datasource.write_text((tree / EC2_DATASOURCE).read_text() + EC2_IDENTITY)
    (root / "etc/hostname").write_text("ip-" + private_ip.replace(".", "-") + "\n")
    # A fixed machine id per instance: systemd-firstboot then has nothing to ask.
    digest = hashlib.sha256(instance_id.encode()).hexdigest()[:32]
    (root / "etc/machine-id").write_text(digest + "\n")
    return machine


CGROUP_V1 = Path("/sys/fs/cgroup")
CONTROLLERS = ("blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids")


def _cgroup_dirs(machine: Machine) -> list[Path]:
    """The machine's subtree in each controller, under the cgroup nspawn starts
    in (the controller's own: what the machine's cgroup namespace is rooted at)."""
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        for name in names.split(","):
            own[name] = path.lstrip("/")
    return [
        CGROUP_V1 / c / own.get(c, "") / "swarmhub-box" / machine.instance_id for c in CONTROLLERS
    ]


def _cgroup_make(machine: Machine) -> None:
    """A writable cgroup subtree per controller for the machine's dockerd.

    On this host's cgroup v1 nspawn mounts the controllers read-only, and runc
    cannot make a container's cgroups. nspawn starts in the machine's own
    subtree of each controller (made here), so the machine's cgroup namespace
    is rooted there, and `cgroup_unit` mounts the controllers afresh (writable,
    that subtree as their root) at boot: the machine's containers stay apart
    from the host's and from other machines'.
    """
    for directory in _cgroup_dirs(machine):
        if not directory.parent.parent.is_dir():
            raise BoxError(f"no cgroup v1 hierarchy at {directory.parent.parent}")
        for level in (directory.parent, directory):
            level.mkdir(exist_ok=True)
            if "cpuset" in level.parts:
                for knob in ("cpuset.cpus", "cpuset.mems"):
                    if not (level / knob).read_text().strip():
                        (level / knob).write_text((level.parent / knob).read_text())


def _cgroup_enter(machine: Machine) -> None:
    """Move the calling process (nspawn-to-be, after fork) into the machine's cgroups."""
    for directory in _cgroup_dirs(machine):
        (directory / "cgroup.procs").write_text(str(os.getpid()))


def cgroup_unit() -> str:
    """The machine's unit that swaps nspawn's read-only cgroups for its subtree."""
    return f"""\
[Unit]
Description=swarmhub box: the machine's own writable cgroups, for dockerd
DefaultDependencies=no
Before=containerd.service docker.service sysinit.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -ec 'for c in {" ".join(CONTROLLERS)}; do \\
  d=/sys/fs/cgroup/$$c; umount $$d; mount -t cgroup -o $$c cgroup $$d; done'

[Install]
WantedBy=sysinit.target
"""


def _cgroup_remove(machine: Machine) -> None:
    """Remove the machine's cgroups, deepest first (they are empty once it stopped)."""
    for directory in _cgroup_dirs(machine):
        if directory.is_dir():
            for sub in sorted(directory.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                if sub.is_dir():
                    sub.rmdir()
            directory.rmdir()


def cgroups_remove_all() -> None:
    """Remove the box's parent cgroups once no machine is left (at `down`)."""
    parents = {d.parent for d in _cgroup_dirs(Machine("i-none", "", 0, "", STATE))}
    for parent in parents:
        try:
            parent.rmdir()
        except OSError:
            pass


def boot(machine: Machine, netns: str, bridge: str) -> None:
    """Start systemd-nspawn in the box's namespace; returns once it runs."""
    log = open(machine.dir / "console.log", "ab")  # noqa: SIM115 - the child keeps it
    argv = [
        # nsenter, not `ip netns exec`: that mounts a new /sys without the
        # host's cgroup hierarchies, and nspawn cannot start without them.
        "nsenter",
        f"--net=/run/netns/{netns}",
        "systemd-nspawn",
        "--boot",
        "--register=no",
        "--keep-unit",
        "--quiet",
        f"--machine={machine.name}",
        f"--directory={machine.root}",
        f"--network-bridge={bridge}",
        "--capability=all",
        "--system-call-filter=@keyring bpf",
        "--bind=/dev/fuse",
        f"--bind={machine.dir / 'docker'}:/var/lib/docker",
        "--resolv-conf=off",
        "--timezone=off",
        "--link-journal=no",
        "--console=pipe",
    ]
    print("+", " ".join(argv), flush=True)
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=lambda: _cgroup_enter(machine),
        # Writable /sys and cgroup hierarchies: dockerd's runc makes cgroups.
        env={**os.environ, "SYSTEMD_NSPAWN_LOCK": "0", "SYSTEMD_NSPAWN_API_VFS_WRITABLE": "1"},
    )
    machine.pid = process.pid
    (machine.dir / "pid").write_text(str(process.pid))


def leader(machine: Machine) -> int:
    """The machine's PID 1 as the host sees it (nspawn's child), or 0."""
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(machine.pid)], capture_output=True, text=True, timeout=10
    ).stdout.split()
    # nsenter execs nspawn, so nspawn is machine.pid itself.
    return int(out[0]) if out else 0


def inside(machine: Machine, argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess:
    """Run a command in the machine's namespaces (as `machinectl shell` would)."""
    pid = leader(machine)
    if not pid:
        raise BoxError(f"{machine.name} is not running")
    return subprocess.run(
        ["nsenter", "-t", str(pid), "-m", "-u", "-i", "-n", "-p", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_state(machine: Machine, deadline: float) -> str:
    """Wait until systemd inside says running/degraded; return that state."""
    state = ""
    while time.monotonic() < deadline:
        if not alive(machine.pid):
            raise BoxError(f"{machine.name} exited while booting (see {machine.dir}/console.log)")
        if leader(machine):
            try:
                state = inside(
                    machine, ["systemctl", "is-system-running"], timeout=10
                ).stdout.strip()
            except subprocess.TimeoutExpired:
                state = "timeout"
            if state in ("running", "degraded"):
                return state
        time.sleep(0.5)
    raise BoxError(f"{machine.name} did not finish booting (last state {state!r})")


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, exited but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def stop(machine: Machine, timeout: float = 60) -> None:
    """Power the machine off (SIGTERM asks nspawn's PID 1 to halt), then unmount it."""
    pidfile = machine.dir / "pid"
    if not machine.pid and pidfile.exists():
        machine.pid = int(pidfile.read_text())
    if machine.pid and alive(machine.pid):
        os.kill(machine.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while alive(machine.pid) and time.monotonic() < deadline:
            try:
                os.waitpid(machine.pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.2)
        if alive(machine.pid):
            os.killpg(machine.pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)
    try:
        _cgroup_remove(machine)
    except OSError as err:
        print(f"box: {machine.name}: cgroups left behind: {err}", flush=True)
    if os.path.ismount(machine.root):
        subprocess.run(["umount", "-l", str(machine.root)], check=False, timeout=30)


def remove(machine: Machine) -> None:
    stop(machine)
    shutil.rmtree(machine.dir, ignore_errors=True)
