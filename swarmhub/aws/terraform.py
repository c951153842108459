"""The thin Terraform/OpenTofu runner: find the binary, run its commands.

Every command goes through `_invoke`, the one place that calls run() (tests
replace it). Long commands use Terraform's machine-readable UI (`-json`, one
JSON message per line) and `progress_line` turns each resource event into one
line for the operator; see docs/decisions/0002-terraform-json-output.md.
Handing off between tools is by files: the plan file, the tfvars JSON,
`terraform output -json`.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from swarmhub.errors import SwarmhubError
from swarmhub.run import echo, run

# Write-only attributes keep the secrets' placeholders out of the state (1.11);
# the S3 backend's use_lockfile needs 1.10. terraform/versions.tf says the same.
MIN_VERSION = (1, 11)
_CANDIDATES = ("terraform", "tofu")
_VERSION = re.compile(r"v?(\d+)\.(\d+)")
# Never ask a question, never colour, say we are a program.
_ENV = {"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"}

_HOOK_VERBS = {
    "apply_start": "…",
    "apply_complete": "done",
    "apply_errored": "FAILED",
    "refresh_start": "reading",
    "refresh_complete": "read",
}


def _invoke(
    args: Sequence[str],
    *,
    capture: bool = False,
    on_line: Callable[[str], None] | None = None,
    cwd: Path | None = None,
):
    """The tool boundary: the only call of run() in this module.

    With `on_line` the raw JSON lines go to the parser only (run() would print
    each one): the command is echoed here and run() kept quiet.
    """
    if on_line is not None:
        echo(f"+ {shlex.join(str(a) for a in args)}")
    return run(args, capture=capture, on_line=on_line, env=_ENV, cwd=cwd, quiet=on_line is not None)


def find_binary(configured: str | None) -> str:
    """The configured binary, else terraform, else tofu, from PATH."""
    names = (configured,) if configured else _CANDIDATES
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise SwarmhubError(
        f"{' or '.join(names)} was not found on PATH",
        hint="install Terraform >= 1.11 or OpenTofu >= 1.11, or set aws.fleet.terraform_binary",
    )


def check_version(binary: str) -> str:
    """The binary's version; SwarmhubError if it is older than MIN_VERSION."""
    out = _invoke([binary, "version", "-json"], capture=True).stdout
    try:
        data = json.loads(out)
        version = data.get("terraform_version") or data.get("tofu_version") or ""
    except json.JSONDecodeError:
        version = out
    match = _VERSION.search(version)
    if not match or (int(match.group(1)), int(match.group(2))) < MIN_VERSION:
        raise SwarmhubError(
            f"{binary} {version.strip() or '(unknown version)'} is too old: Terraform/OpenTofu "
            f">= {MIN_VERSION[0]}.{MIN_VERSION[1]} is needed"
        )
    return f"{match.group(1)}.{match.group(2)}"


def _resource(message: dict, key: str) -> str:
    return ((message.get(key) or {}).get("resource") or {}).get("addr", "?")


def progress_line(line: str) -> str | None:
    """One short line per resource event of a `-json` UI message; None for the rest.

    Non-JSON lines (a provider's stray stderr, warnings) are passed through so
    nothing the operator should see is swallowed.
    """
    line = line.strip()
    if not line:
        return None
    try:
        msg = json.loads(line)
    except json.JSONDecodeError:
        return line
    if not isinstance(msg, dict):
        return line
    kind = msg.get("type")
    if kind == "planned_change":
        change = msg.get("change") or {}
        return f"plan   {change.get('action', '?'):<8} {_resource(msg, 'change')}"
    if kind in ("apply_start", "apply_complete", "apply_errored"):
        hook = msg.get("hook") or {}
        action = hook.get("action", "?")
        took = hook.get("elapsed_seconds")
        suffix = f" ({took}s)" if kind == "apply_complete" and took is not None else ""
        return f"{action:<6} {_HOOK_VERBS[kind]:<6} {_resource(msg, 'hook')}{suffix}"
    if kind == "apply_progress":
        hook = msg.get("hook") or {}
        took = hook.get("elapsed_seconds", "?")
        return f"{hook.get('action', '?'):<6} still  {_resource(msg, 'hook')} ({took}s)"
    if kind == "change_summary":
        return str(msg.get("@message", ""))
    if kind == "diagnostic":
        diag = msg.get("diagnostic") or {}
        where = (diag.get("range") or {}).get("filename")
        detail = (diag.get("detail") or "").replace("\n", " ")
        text = f"{diag.get('severity', 'error')}: {diag.get('summary', '')}"
        return text + (f" [{where}]" if where else "") + (f": {detail}" if detail else "")
    return None


@dataclass
class Progress:
    """Prints progress lines and remembers what a caller needs afterwards:
    the change summary (to skip an empty apply) and the errors (for one line)."""

    printer: Callable[[str], None] = echo
    changes: dict | None = None
    errors: list[str] = field(default_factory=list)

    def __call__(self, line: str) -> None:
        shown = progress_line(line)
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            msg = None
        if isinstance(msg, dict):
            if msg.get("type") == "change_summary":
                self.changes = msg.get("changes")
            if msg.get("type") == "diagnostic" and msg.get("@level") == "error":
                self.errors.append(str((msg.get("diagnostic") or {}).get("summary", "")))
        if shown is not None:
            self.printer(shown)

    @property
    def no_changes(self) -> bool:
        c = self.changes or {}
        return bool(self.changes) and not any(c.get(k) for k in ("add", "change", "remove"))


@dataclass
class Terraform:
    """Commands of one working directory (a readable copy of terraform/)."""

    binary: str
    workdir: Path

    def _cmd(self, *args: str) -> list[str]:
        return [self.binary, f"-chdir={self.workdir}", *args]

    def _stream(self, args: list[str], what: str) -> Progress:
        progress = Progress()
        try:
            _invoke(args, on_line=progress)
        except SwarmhubError as exc:
            if progress.errors:
                raise SwarmhubError(
                    f"terraform {what} failed: {'; '.join(progress.errors)}"
                ) from exc
            raise
        return progress

    def init(self, backend_config: Sequence[str]) -> None:
        args = self._cmd("init", "-input=false", "-no-color", "-reconfigure")
        args += [f"-backend-config={item}" for item in backend_config]
        _invoke(args)

    def validate(self) -> None:
        _invoke(self._cmd("validate", "-no-color"))

    def plan(
        self, plan_file: str, *, destroy: bool = False, var_overrides: Sequence[str] = ()
    ) -> Progress:
        args = self._cmd("plan", "-json", "-input=false", f"-out={plan_file}")
        if destroy:
            args.append("-destroy")
        args += [f"-var={item}" for item in var_overrides]
        return self._stream(args, "plan")

    def show(self, plan_file: str) -> None:
        _invoke(self._cmd("show", "-no-color", plan_file))

    def apply(self, plan_file: str) -> Progress:
        return self._stream(self._cmd("apply", "-json", "-input=false", plan_file), "apply")

    def output(self) -> dict:
        """`terraform output -json` as {name: value}."""
        out = _invoke(self._cmd("output", "-json"), capture=True).stdout
        try:
            data = json.loads(out or "{}")
        except json.JSONDecodeError as exc:
            raise SwarmhubError("terraform output -json did not print JSON") from exc
        return {name: item.get("value") for name, item in data.items()}
