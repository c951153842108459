"""The hub answers on the manager's Elastic IP: its routing, in network namespaces.

The manager's primary interface is in a private subnet (default route via
its router), the role's interface in the public subnet carries the Elastic
IP, and the proxy publishes its port in host mode: Docker DNATs the
connection into the proxy's container. The container's replies are
*forwarded*, so only the rules that the rendered user-data's `role_network`
installs bring them back out of the role's interface; out of the primary
interface EC2's source/destination check drops them.

Namespaces (all named shaws-*, removed afterwards):

    shaws-cli  203.0.113.10 -- shaws-igw (EIP 198.51.100.7 <-> 10.40.0.50, 1:1 NAT)
                                   | 10.40.0.1 (public subnet router)
    shaws-mgr  eth1 10.40.0.50/24 (the role's interface)
               eth0 10.40.16.10/20 -- shaws-priv 10.40.16.1 (private subnet router:
                                        drops what eth0 sends from another source)
               gwbr 172.18.0.1/16 -- shaws-ctr 172.18.0.2: an HTTP server on :8000
               DNAT :80 -> 172.18.0.2:8000, as Docker publishes a host-mode port

A control run with the rules the user-data had before (`from <address>`
only) shows the namespaces really drop misrouted replies.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid

import pytest

from tests.conftest import REPO, require_tool
from tests.unit.test_aws_deploy import render_tftpl

TEMPLATE = REPO / "terraform" / "modules" / "manager" / "templates" / "user-data.sh.tftpl"
EIP, ENI_ADDR, PRIMARY = "198.51.100.7", "10.40.0.50", "10.40.16.10"
NAMESPACES = ("shaws-cli", "shaws-igw", "shaws-mgr", "shaws-priv", "shaws-ctr")
# The rules of the user-data before the fix: replies of forwarded (DNAT)
# connections do not match them.
BEFORE = """
role_network() {
  ip link set "$1" up
  ip addr add "${SWARMHUB_MANAGER_ADDR%:*}/$SWARMHUB_ENI_PREFIX_LENGTH" dev "$1"
  ip route replace default via "$SWARMHUB_ENI_GATEWAY" dev "$1" table 100
  ip rule add from "${SWARMHUB_MANAGER_ADDR%:*}" table 100 priority 100
}
"""


def sh(*args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=timeout)


def ns(name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh("ip", "netns", "exec", name, *args, check=check)


def rendered_role_network() -> str:
    """The `role_network` function of the manager's rendered user-data."""
    names = re.findall(r"(?<!\$)\$\{(\w+)\}", TEMPLATE.read_text())
    values = dict.fromkeys(names, "x")
    user_data = render_tftpl(TEMPLATE, values)
    match = re.search(r"^role_network\(\) \{.*?^\}$", user_data, re.S | re.M)
    assert match, "the user-data has no role_network function"
    return match.group(0)


def veth(a: str, a_ns: str, b: str, b_ns: str) -> None:
    tmp_a, tmp_b = f"sh{uuid.uuid4().hex[:8]}", f"sh{uuid.uuid4().hex[:8]}"
    sh("ip", "link", "add", tmp_a, "type", "veth", "peer", "name", tmp_b)
    sh("ip", "link", "set", tmp_a, "netns", a_ns)
    sh("ip", "link", "set", tmp_b, "netns", b_ns)
    ns(a_ns, "ip", "link", "set", tmp_a, "name", a)
    ns(b_ns, "ip", "link", "set", tmp_b, "name", b)
    ns(a_ns, "ip", "link", "set", a, "up")
    ns(b_ns, "ip", "link", "set", b, "up")


def teardown() -> None:
    for name in NAMESPACES:
        pids = sh("ip", "netns", "pids", name, check=False).stdout.split()
        for pid in pids:
            sh("kill", pid, check=False)
        sh("ip", "netns", "del", name, check=False)


def build(role_network: str, rp_filter: int) -> None:
    """The namespaces above, the manager's interfaces and Docker's DNAT; then
    `role_network eth1` run in the manager's namespace as its boot does."""
    for name in NAMESPACES:
        sh("ip", "netns", "add", name)
        ns(name, "ip", "link", "set", "lo", "up")
    for router in ("shaws-igw", "shaws-priv", "shaws-mgr"):
        ns(router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    # The internet and the EIP's 1:1 NAT (the internet gateway).
    veth("eth0", "shaws-cli", "cli", "shaws-igw")
    ns("shaws-cli", "ip", "addr", "add", "203.0.113.10/24", "dev", "eth0")
    ns("shaws-cli", "ip", "route", "add", "default", "via", "203.0.113.1")
    ns("shaws-igw", "ip", "addr", "add", "203.0.113.1/24", "dev", "cli")
    ns("shaws-igw", "iptables", "-t", "nat", "-A", "PREROUTING", "-d", EIP, "-j", "DNAT",
       "--to-destination", ENI_ADDR)  # fmt: skip
    ns("shaws-igw", "iptables", "-t", "nat", "-A", "POSTROUTING", "-s", ENI_ADDR, "-j", "SNAT",
       "--to-source", EIP)  # fmt: skip
    ns("shaws-igw", "ip", "route", "add", f"{EIP}/32", "dev", "cli")
    # The role's interface in the public subnet.
    veth("eth1", "shaws-mgr", "pub", "shaws-igw")
    ns("shaws-igw", "ip", "addr", "add", "10.40.0.1/24", "dev", "pub")
    # The primary interface in the private subnet, the main table's default.
    veth("eth0", "shaws-mgr", "mgr", "shaws-priv")
    ns("shaws-mgr", "ip", "addr", "add", f"{PRIMARY}/20", "dev", "eth0")
    ns("shaws-mgr", "ip", "route", "add", "default", "via", "10.40.16.1")
    ns("shaws-priv", "ip", "addr", "add", "10.40.16.1/20", "dev", "mgr")
    # EC2's source/destination check on the primary interface.
    ns("shaws-priv", "iptables", "-A", "FORWARD", "-i", "mgr", "!", "-s", PRIMARY, "-j", "DROP")
    ns("shaws-priv", "iptables", "-A", "INPUT", "-i", "mgr", "!", "-s", PRIMARY, "-j", "DROP")
    # The proxy's container behind docker_gwbridge, and Docker's DNAT for a
    # host-mode published port.
    veth("gwbr", "shaws-mgr", "eth0", "shaws-ctr")
    ns("shaws-mgr", "ip", "addr", "add", "172.18.0.1/16", "dev", "gwbr")
    ns("shaws-ctr", "ip", "addr", "add", "172.18.0.2/16", "dev", "eth0")
    ns("shaws-ctr", "ip", "route", "add", "default", "via", "172.18.0.1")
    ns("shaws-mgr", "iptables", "-t", "nat", "-A", "PREROUTING", "-p", "tcp", "-d", ENI_ADDR,
       "--dport", "80", "-j", "DNAT", "--to-destination", "172.18.0.2:8000")  # fmt: skip
    ns("shaws-mgr", "iptables", "-t", "nat", "-A", "POSTROUTING", "-s", "172.18.0.0/16",
       "!", "-o", "gwbr", "-j", "MASQUERADE")  # fmt: skip
    # Reverse-path filtering: 1 strict, 2 loose (Ubuntu's default).
    ns("shaws-mgr", "sysctl", "-qw", f"net.ipv4.conf.all.rp_filter={rp_filter}")
    ns("shaws-mgr", "sysctl", "-qw", f"net.ipv4.conf.eth1.rp_filter={rp_filter}")
    env = {
        "SWARMHUB_MANAGER_ADDR": f"{ENI_ADDR}:2377",
        "SWARMHUB_ENI_PREFIX_LENGTH": "24",
        "SWARMHUB_ENI_GATEWAY": "10.40.0.1",
    }
    exports = "".join(f"export {k}={v}\n" for k, v in env.items())
    script = f"set -eu\n{exports}{role_network}\nrole_network eth1\n"
    ns("shaws-mgr", "bash", "-c", script)


def serve() -> subprocess.Popen:
    """A tiny HTTP server in the container's namespace; waits (bounded) until it listens."""
    proc = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            "shaws-ctr",
            "python3",
            "-m",
            "http.server",
            "8000",
            "--bind",
            "172.18.0.2",
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while ns("shaws-ctr", "ss", "-ltn", "sport = :8000", check=False).stdout.count("LISTEN") == 0:
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the stand-in proxy did not listen on 172.18.0.2:8000 within 15s")
        time.sleep(0.1)
    return proc


def answers() -> bool:
    out = ns("shaws-cli", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
             "--max-time", "3", f"http://{EIP}/", check=False)  # fmt: skip
    return out.stdout == "200"


@pytest.fixture
def namespaces():
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    for tool in ("ip", "iptables", "curl", "ss"):
        require_tool(tool)
    assert shutil.which("python3")
    teardown()
    try:
        yield
    finally:
        teardown()


def test_the_hub_answers_on_its_elastic_ip_through_the_dnat(namespaces):
    # Even with strict reverse-path filtering.
    build(rendered_role_network(), rp_filter=1)
    server = serve()
    try:
        assert answers(), "no answer on the Elastic IP with the rendered user-data's rules"
        # Connections the manager itself makes from the address (certbot's
        # standalone server, the swarm on 2377) leave by the role's interface too.
        route = ns("shaws-mgr", "ip", "route", "get", "203.0.113.10", "from", ENI_ADDR).stdout
        assert "dev eth1" in route
        # Everything else keeps the main table: out of the primary interface.
        assert "dev eth0" in ns("shaws-mgr", "ip", "route", "get", "203.0.113.10").stdout
    finally:
        server.kill()
        server.wait(timeout=10)


def test_control_the_rules_before_the_fix_lose_the_replies(namespaces):
    # Loose filtering: only the source/destination check can lose them.
    build(BEFORE, rp_filter=2)
    server = serve()
    try:
        assert not answers(), "the namespaces do not reproduce EC2's source/destination check"
    finally:
        server.kill()
        server.wait(timeout=10)
