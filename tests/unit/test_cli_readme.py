"""The README's commands work after the quickstart (issue 23 item 6).

The quickstart installs the package with no extras; the benchmarks need what
they import. Every third-party module the benchmarks import, or the swarmhub
modules they use import, must come from the base dependencies or the `bench`
extra that the README's benchmark section installs with one command.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module.split(".")[0])
    return out


def _bench_modules() -> set[str]:
    """Top-level modules the benchmarks reach: their own imports and those of the
    swarmhub modules they import, followed through swarmhub."""
    seen_files: set[Path] = set()
    todo = list((REPO / "bench").glob("*.py"))
    found: set[str] = set()
    while todo:
        path = todo.pop()
        if path in seen_files:
            continue
        seen_files.add(path)
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                top = name.split(".")[0]
                if top == "swarmhub":
                    base = REPO / Path(*name.split("."))
                    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                        if candidate.exists():
                            todo.append(candidate)
                else:
                    found.add(top)
    local = {p.stem for p in (REPO / "bench").glob("*.py")}
    return {m for m in found - local if m not in sys.stdlib_module_names and m != "__future__"}


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=\[ ;]", r, maxsplit=1)[0].lower() for r in requirements}


# Import name -> distribution name, where they differ.
DISTRIBUTION = {"yaml": "pyyaml", "botocore": "boto3", "jupyterhub": "jupyterhub"}


def test_the_bench_extra_covers_what_the_benchmarks_import():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    have = _names(project["dependencies"]) | _names(
        project["optional-dependencies"].get("bench", [])
    )
    missing = {m for m in _bench_modules() if DISTRIBUTION.get(m, m) not in have}
    assert missing == set(), f"the benchmarks import {missing}, which nothing installs"


def test_the_readme_says_how_to_install_the_benchmarks_needs():
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Benchmarks", 1)[1].split("\n## ", 1)[0]
    assert "pip install -e '.[bench]'" in section
