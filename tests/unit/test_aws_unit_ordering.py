"""No unit of a node waits on a unit that waits on it.

A `systemctl start` (or restart, or `enable --now`) without `--no-block`
returns when the started unit's job is done; a job for a unit ordered after
the caller's unit is held until the caller's unit is done: a deadlock that
systemd breaks only at the caller's TimeoutStartSec (25 minutes for the
manager's boot). Here every systemctl call our units and user-data make is
read, and each blocking one is checked against the ordering (After=/Before=,
drop-ins, WantedBy= a target, transitively) of the real unit files: the
cookbooks' units, the units the manager's user-data writes, and cloud-init's
cloud-final.service (which runs user-data) as Debian and Ubuntu ship it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from tests.conftest import REPO
from tests.unit.test_aws_manager_boot import heredoc, user_data

COOKBOOKS = REPO / "cookbooks"
WORKER_USER_DATA = REPO / "terraform" / "modules" / "workers" / "templates" / "user-data.sh.tftpl"
# cloud-init's cloud-final.service on Debian and Ubuntu (the variant runs after
# multi-user.target); only its ordering matters here.
CLOUD_FINAL = (
    "[Unit]\nAfter=network-online.target cloud-config.service rc-local.service\n"
    "After=multi-user.target\nWants=network-online.target cloud-config.service\n"
)
BLOCKING = {"start", "restart", "try-restart", "reload-or-restart", "isolate"}


def directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for key, value in re.findall(r"^(After|Before|WantedBy|RequiredBy)=(.*)$", text, re.M):
        found[key] += value.split()
    return found


def units() -> dict[str, str]:
    """Unit name -> its text with drop-ins appended, as on the manager."""
    found = {"cloud-final.service": CLOUD_FINAL}
    for template in COOKBOOKS.glob("*/templates/*.erb"):
        name = template.name.removesuffix(".erb")
        if name.rsplit(".", 1)[-1] in ("service", "timer", "target"):
            found[name] = template.read_text()
    text = user_data()
    for path in re.findall(r"^cat > /etc/systemd/system/(\S+) <<'SWARMHUB_UNIT'", text, re.M):
        body = heredoc(text, "SWARMHUB_UNIT", f"/etc/systemd/system/{path}")
        name = path.split("/")[0].removesuffix(".d")
        found[name] = found.get(name, "") + "\n" + body if ".d/" in path else body
    return found


def before_edges(all_units: dict[str, str]) -> dict[str, set[str]]:
    """a -> {b, ...}: a is ordered before b."""
    edges: dict[str, set[str]] = defaultdict(set)
    for name, text in all_units.items():
        d = directives(text)
        for other in d["After"]:
            edges[other].add(name)
        for other in d["Before"]:
            edges[name].add(other)
        # A target is ordered after what it wants (its default dependencies).
        for target in d["WantedBy"] + d["RequiredBy"]:
            if target.endswith(".target"):
                edges[name].add(target)
    return edges


def ordered_after(edges: dict[str, set[str]], first: str, then: str) -> bool:
    seen, todo = set(), [first]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt == then:
                return True
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


def blocking_starts(script: str) -> list[tuple[str, str]]:
    """(call, unit) for every systemctl call that waits for a unit to start."""
    found = []
    for line in script.splitlines():
        if line.lstrip().startswith("#"):
            continue
        for match in re.finditer(r"systemctl((?:\s+[-\w.@]+)+)", line):
            words = match.group(1).split()
            options = [w for w in words if w.startswith("-")]
            args = [w for w in words if not w.startswith("-")]
            if not args or "--no-block" in options:
                continue
            verb, names = args[0], args[1:]
            if verb in BLOCKING or (verb == "enable" and "--now" in options):
                found += [(match.group(0).strip(), n) for n in names if "." in n]
    return found


def callers() -> dict[str, str]:
    """The unit each script runs under -> what it runs."""
    text = user_data()
    boot = heredoc(text, "SWARMHUB_BOOT", "/usr/local/sbin/swarmhub-manager-boot")
    # User-data minus the files it writes: what cloud-final runs.
    top = re.sub(r"<<'(\w+)'\n.*?\n\1\n", "\n", text, flags=re.S)
    worker = re.sub(r"<<'(\w+)'\n.*?\n\1\n", "\n", WORKER_USER_DATA.read_text(), flags=re.S)
    found = {
        "swarmhub-manager-boot.service": boot,
        "swarmhub-certificate.service": boot,
        "cloud-final.service": top + "\n" + worker,
    }
    for name, unit in units().items():
        commands = "\n".join(re.findall(r"^Exec\w+=(.*)$", unit, re.M))
        if "systemctl" in commands:
            found[name] = found.get(name, "") + "\n" + commands
    return found


def test_the_reader_sees_blocking_calls_and_lets_no_block_ones_pass():
    script = (
        "systemctl start a.service || true\n"
        "certbot --deploy-hook 'systemctl restart b.service'\n"
        "systemctl enable --now c.service d.timer\n"
        "systemctl start --no-block e.service\n"
        "systemctl enable f.service\n"
        "# systemctl start g.service\n"
        "systemctl stop h.service\n"
    )
    assert [unit for _, unit in blocking_starts(script)] == [
        "a.service",
        "b.service",
        "c.service",
        "d.timer",
    ]


def test_the_ordering_reader_follows_after_before_drop_ins_and_targets():
    edges = before_edges(
        {
            "a.service": "[Unit]\nBefore=b.service\n",
            "c.service": "[Unit]\nAfter=b.service\n[Install]\nWantedBy=multi-user.target\n",
            "cloud-final.service": CLOUD_FINAL,
        }
    )
    assert ordered_after(edges, "a.service", "c.service")
    assert not ordered_after(edges, "c.service", "a.service")
    assert ordered_after(edges, "c.service", "cloud-final.service")


def test_no_unit_blocks_on_starting_a_unit_ordered_after_it():
    all_units = units()
    edges = before_edges(all_units)
    deadlocks = [
        f"{caller} runs `{call}` ({unit} is ordered after it): --no-block, or order it otherwise"
        for caller, script in callers().items()
        for call, unit in blocking_starts(script)
        if ordered_after(edges, caller, unit)
    ]
    assert not deadlocks, "\n".join(deadlocks)


def test_the_callers_are_found():
    """The check above reads the scripts it should (not nothing)."""
    found = callers()
    assert "certbot certonly" in found["swarmhub-manager-boot.service"]
    assert "systemctl restart swarmhub-hub.service" in found["swarmhub-hub-sync.service"]
    assert "systemctl enable --now swarmhub-join.service" in found["cloud-final.service"]
    assert Path(WORKER_USER_DATA).exists()
