"""The operator's CLI runs with `[project.dependencies]` alone.

On a fresh machine `scripts/quickstart` installs the package without extras:
`deploy` once died there with "No module named 'tornado'" (the local deploy
reached the hub's own config, which imports JupyterHub's stack), while CI,
which installs the test extra, never saw it. These tests follow every import
the CLI can reach, at module level and inside functions, and check each
third-party one is a base dependency; then import them all with the extras'
packages hidden.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
ENTRY = "swarmhub.cli"


def _module_file(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin in (None, "built-in", "frozen"):
        return None
    return Path(spec.origin)


def _imports(path: Path, package: str) -> set[str]:
    """Every module name `path` imports, anywhere in it (functions included)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            out.add(base)
            for alias in node.names:
                out.add(f"{base}.{alias.name}")  # a submodule, if it is one
    return out


def operator_closure() -> tuple[set[str], set[str]]:
    """(our modules the CLI reaches, third-party top-level names they import)."""
    ours, third = set(), set()
    todo = [ENTRY]
    while todo:
        name = todo.pop()
        if name in ours:
            continue
        path = _module_file(name)
        if path is None:
            continue
        ours.add(name)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for imported in _imports(path, package):
            top = imported.split(".")[0]
            if top == "swarmhub":
                try:
                    if importlib.util.find_spec(imported) is not None:
                        todo.append(imported)
                except ModuleNotFoundError:
                    pass  # `from swarmhub.x import a_function`
            elif top not in sys.stdlib_module_names and top != "__future__":
                third.add(top)
    return ours, third


def base_distributions() -> set[str]:
    """The distributions `pip install swarmhub` (no extras) brings, transitively."""
    seen: set[str] = set()
    todo = [Requirement(r) for r in md.requires("swarmhub") or []]
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = req.name.lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            todo += [Requirement(r) for r in md.requires(req.name) or []]
        except md.PackageNotFoundError:
            pass
    return seen


def test_every_third_party_import_of_the_cli_is_a_base_dependency():
    _, third = operator_closure()
    provided = md.packages_distributions()
    base = base_distributions()
    outside = {
        top: provided.get(top, ["?"])
        for top in third
        if not {d.lower().replace("_", "-") for d in provided.get(top, [])} & base
    }
    assert outside == {}, f"the CLI imports packages that are not base dependencies: {outside}"


def test_the_cli_never_reaches_what_runs_in_the_hub_container():
    ours, _ = operator_closure()
    hub_side = {m for m in ours if m.startswith(("swarmhub.hub.spawner", "swarmhub.hub.hubconfig"))}
    assert hub_side == set()


@pytest.mark.parametrize("blocked", [("tornado", "jupyterhub", "traitlets", "dockerspawner")])
def test_every_module_the_cli_reaches_imports_without_the_extras(blocked):
    ours, _ = operator_closure()
    code = textwrap.dedent(
        f"""
        import importlib, importlib.abc, sys
        BLOCKED = {tuple(blocked)!r}
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ModuleNotFoundError(f"No module named {{name!r}} (hidden)")
        sys.meta_path.insert(0, Block())
        for name in {sorted(ours)!r}:
            importlib.import_module(name)
        from swarmhub import cli
        cli.main(["--help"], standalone_mode=False)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
