"""The box's network: one namespace with one bridge, and one link to the host.

Machines sit on the bridge with their instances' private addresses; the bridge
holds each subnet's first address (their gateway) and 169.254.169.254 (the
metadata service). The namespace has no default route, so nothing a machine
sends leaves the box; the host reaches the box's services (moto) through a
veth pair of fixed addresses.
"""

from __future__ import annotations

import subprocess

from box.image import run

NETNS = "swarmhub-box"
BRIDGE = "boxbr0"
HOST_LINK = "boxhost0"
NS_LINK = "boxns0"
HOST_ADDRESS = "100.64.250.1"
NS_ADDRESS = "100.64.250.2"
IMDS_ADDRESS = "169.254.169.254"


def _ns(*argv: str) -> list[str]:
    return ["ip", "netns", "exec", NETNS, *argv]


def exists() -> bool:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10)
    return any(line.split()[0] == NETNS for line in out.stdout.splitlines() if line.strip())


def up() -> None:
    """Make the namespace, bridge and host link (safe to re-run)."""
    if exists():
        return
    run(["ip", "netns", "add", NETNS], timeout=10)
    run(_ns("ip", "link", "set", "lo", "up"), timeout=10)
    run(_ns("ip", "link", "add", BRIDGE, "type", "bridge"), timeout=10)
    run(_ns("ip", "addr", "add", f"{IMDS_ADDRESS}/32", "dev", BRIDGE), timeout=10)
    run(_ns("ip", "link", "set", BRIDGE, "up"), timeout=10)
    run(_ns("sysctl", "-qw", "net.ipv4.ip_forward=1"), timeout=10)
    run(["ip", "link", "add", HOST_LINK, "type", "veth", "peer", "name", NS_LINK], timeout=10)
    run(["ip", "link", "set", NS_LINK, "netns", NETNS], timeout=10)
    run(["ip", "addr", "add", f"{HOST_ADDRESS}/30", "dev", HOST_LINK], timeout=10)
    run(["ip", "link", "set", HOST_LINK, "up"], timeout=10)
    run(_ns("ip", "addr", "add", f"{NS_ADDRESS}/30", "dev", NS_LINK), timeout=10)
    run(_ns("ip", "link", "set", NS_LINK, "up"), timeout=10)


def add_subnet(cidr_gateway: str) -> None:
    """Give the bridge a subnet's gateway address, e.g. "10.0.1.1/24" (idempotent)."""
    out = subprocess.run(
        _ns("ip", "-o", "addr", "show", "dev", BRIDGE), capture_output=True, text=True, timeout=10
    ).stdout
    if f" {cidr_gateway} " not in out:
        run(_ns("ip", "addr", "add", cidr_gateway, "dev", BRIDGE), timeout=10)


def down() -> None:
    """Remove the namespace (and with it the bridge and the veth pair)."""
    if exists():
        subprocess.run(["ip", "netns", "del", NETNS], check=False, timeout=10)
    subprocess.run(["ip", "link", "del", HOST_LINK], check=False, capture_output=True, timeout=10)
