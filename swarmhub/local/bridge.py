"""The node subnet on this machine: one Linux bridge, the twin of one VPC subnet.

Its first address is the manager's (the host engine advertises the swarm
there); every local node's veth joins it. `deploy` makes it, `destroy` and
the pool agent at boot (swarmhub.local.boot) keep it.
"""

from __future__ import annotations

import ipaddress

from swarmhub.config import Config
from swarmhub.local import firewall
from swarmhub.run import run

BRIDGE = "swarmhub0"
_FORWARD = ["FORWARD", "-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT"]


def manager_address(cfg: Config) -> str:
    net = ipaddress.ip_network(cfg.local.node_subnet)
    return str(net.network_address + 1)


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
    rule = _FORWARD
    if run(["iptables", "-C", *rule], check=False, capture=True, quiet=True).returncode:
        run(["iptables", "-I", *rule])
    # The hub's API port: from the nodes (this bridge) only (swarmhub.local.firewall).
    firewall.ensure(BRIDGE)
    return manager_address(cfg)


def remove_bridge() -> None:
    firewall.remove()
    rule = _FORWARD
    while not run(["iptables", "-C", *rule], check=False, capture=True, quiet=True).returncode:
        run(["iptables", "-D", *rule], quiet=True)
    run(["ip", "link", "del", BRIDGE], check=False, capture=True, quiet=True)


def main() -> None:
    """`python -m swarmhub.local.bridge --settings F`: the bridge, at boot."""
    import argparse

    from swarmhub.hub.settings import load

    parser = argparse.ArgumentParser(description="swarmhub node bridge")
    parser.add_argument("--settings", required=True)
    ensure_bridge(load(parser.parse_args().settings).config)


if __name__ == "__main__":
    main()
