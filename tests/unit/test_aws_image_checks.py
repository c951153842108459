"""The images' in-bake checks against the real unit files.

Each `images/*/checks.sh` demands a `systemctl is-enabled` state of our
units; a demand the unit file cannot meet fails every bake (a unit with no
[Install] section is "static", never "disabled"). Here every such demand is
read from the script and put to the real systemctl, offline (`--root`), on a
root holding the cookbooks' rendered units: "disabled" as the bake leaves
them, "enabled" after `systemctl enable`, as the recipes do.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, require_tool

CHECKS = sorted((REPO / "images").glob("*/checks.sh"))
TEMPLATES = REPO / "cookbooks"


def demands(script: str) -> list[tuple[str, str]]:
    """(unit, state) for every is-enabled state the script requires."""
    text = script.replace("\\\n", " ")
    found = []
    loops = re.findall(r"^for (?:unit|pair) in (.*?); do\n(.*?)^done", text, re.S | re.M)
    for units, body in loops:
        fixed = re.search(r'\[ "\$state" = (\w+) \]', body)
        for item in units.split():
            unit, _, want = item.partition(":")
            found.append((unit, want or fixed.group(1)))
    for unit, want in re.findall(
        r'^state="\$\(systemctl is-enabled (\S+) .*\n\[ "\$state" = (\w+) \]', text, re.M
    ):
        found.append((unit, want))
    found += [(unit, "enabled") for unit in re.findall(r"^enabled (\S+) \|\|", text, re.M)]
    return found


def unit_root(tmp_path: Path) -> Path:
    """A root whose /etc/systemd/system holds every unit the cookbooks render."""
    root = tmp_path / "root"
    units = root / "etc" / "systemd" / "system"
    units.mkdir(parents=True)
    for template in TEMPLATES.glob("*/templates/*.erb"):
        name = template.name.removesuffix(".erb")
        if name.rsplit(".", 1)[-1] in ("service", "timer", "socket", "path"):
            text = re.sub(r"<%=\s*@(\w+)\s*%>", r"/usr/local/sbin/\1", template.read_text())
            (units / name).write_text(text)
    return root


def is_enabled(root: Path, unit: str) -> str:
    out = subprocess.run(
        ["systemctl", f"--root={root}", "is-enabled", unit],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return out.stdout.strip()


def test_the_parser_reads_every_kind_of_demand():
    script = (
        "for pair in a.service:disabled \\\n  b.service:static; do\n  x\ndone\n"
        'for unit in c.timer d.service; do\n  [ "$state" = disabled ] || fail\ndone\n'
        'state="$(systemctl is-enabled e.service 2>/dev/null || true)"\n'
        '[ "$state" = enabled ] || fail\n'
        "enabled f.service || fail\n"
    )
    assert demands(script) == [
        ("a.service", "disabled"),
        ("b.service", "static"),
        ("c.timer", "disabled"),
        ("d.service", "disabled"),
        ("e.service", "enabled"),
        ("f.service", "enabled"),
    ]


@pytest.mark.parametrize("checks", CHECKS, ids=lambda p: p.parent.name)
def test_every_unit_state_the_bake_demands_is_one_systemctl_reports(tmp_path, checks):
    require_tool("systemctl")
    root = unit_root(tmp_path)
    ours = {p.name for p in (root / "etc/systemd/system").iterdir()}
    wanted = [(unit, want) for unit, want in demands(checks.read_text()) if unit in ours]
    assert wanted, f"{checks} demands no state of any unit of ours"
    wrong = []
    for unit, want in wanted:
        if want == "enabled":
            subprocess.run(
                ["systemctl", f"--root={root}", "enable", unit],
                capture_output=True,
                timeout=30,
                check=False,
            )
        have = is_enabled(root, unit)
        if have != want:
            wrong.append(f"{unit}: checks.sh wants {want}, systemctl says {have}")
    assert not wrong, "\n".join(wrong)
