"""The hub's API port answers only where it must: user servers, on the node bridge.

The hub's API (HUB_PORT, plain HTTP) is published on the manager so servers
reach it at an address that outlives the hub's container (decision 0008).
Swarm's host-mode publishing binds it on every interface, the internet's
included; on AWS the security group admits it from the nodes only, and here
these rules do the same:

- chain SWARMHUB-HUB-API: return (allow) for the loopback, the node bridge
  (every local node's servers) and docker_gwbridge (containers on the
  manager), drop the rest;
- jumped to from DOCKER-USER for new connections whose original destination
  port is HUB_PORT and that go to a container (Docker DNATs the published port
  before the filter sees it), and from INPUT for the same port (docker-proxy
  answers there, on IPv6 too: ip6tables gets the same chain, loopback only).

The public port (hub.port, the proxy) is not touched. Every rule is checked
before it is added, so `deploy` and the boot unit may run this again.
"""

from __future__ import annotations

from swarmhub.run import run
from swarmhub.swarm.specs import HUB_PORT

CHAIN = "SWARMHUB-HUB-API"
GWBRIDGE = "docker_gwbridge"


def chain_rules(bridge: str, ipv6: bool = False) -> list[list[str]]:
    """The chain's rules, in order: who may open the hub's API port."""
    allowed = ["lo"] if ipv6 else ["lo", bridge, GWBRIDGE]
    return [["-i", i, "-j", "RETURN"] for i in allowed] + [["-j", "DROP"]]


def jumps(ipv6: bool = False) -> list[list[str]]:
    """Where the chain is entered from: (chain, match...)."""
    port = str(HUB_PORT)
    out = [["INPUT", "-p", "tcp", "--dport", port, "-j", CHAIN]]
    if not ipv6:
        out.append(
            ["DOCKER-USER", "-p", "tcp", "-m", "conntrack", "--ctstate", "NEW",
             "--ctorigdstport", port, "-o", GWBRIDGE, "-j", CHAIN]
        )  # fmt: skip
    return out


def ensure(bridge: str) -> None:
    for tool, ipv6 in (("iptables", False), ("ip6tables", True)):
        if not _works(tool):
            continue
        for chain in (CHAIN, "DOCKER-USER") if not ipv6 else (CHAIN,):
            if _quiet(tool, "-n", "-L", chain):
                run([tool, "-N", chain], quiet=True)
        run([tool, "-F", CHAIN], quiet=True)
        for rule in chain_rules(bridge, ipv6):
            run([tool, "-A", CHAIN, *rule], quiet=True)
        for jump in jumps(ipv6):
            if _quiet(tool, "-C", *jump):
                run([tool, "-I", *jump], quiet=True)


def remove() -> None:
    for tool, ipv6 in (("iptables", False), ("ip6tables", True)):
        if not _works(tool):
            continue
        for jump in jumps(ipv6):
            while not _quiet(tool, "-C", *jump):
                run([tool, "-D", *jump], quiet=True)
        if not _quiet(tool, "-n", "-L", CHAIN):
            run([tool, "-F", CHAIN], quiet=True)
            run([tool, "-X", CHAIN], quiet=True)


def _quiet(tool: str, *args: str) -> int:
    """The exit code of a check (non-zero: absent)."""
    return run([tool, *args], check=False, capture=True, quiet=True).returncode


def _works(tool: str) -> bool:
    import shutil

    return shutil.which(tool) is not None and not _quiet(tool, "-n", "-L", "INPUT")
