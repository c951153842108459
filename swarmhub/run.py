"""One way to run external tools (docker, packer, terraform, debootstrap...).

Argument lists only, never shell strings. The exact command is echoed, its
output streamed line by line as it comes (a Packer or Terraform run takes
minutes and the operator should see it move), and a failure raises
`SwarmhubError` with the command and the last lines it printed.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Mapping, Sequence

from swarmhub.errors import SwarmhubError

# How much of a failed command's output goes into the error line.
_TAIL_LINES = 3


def echo(message: str) -> None:
    """Progress for the operator: stderr, so stdout stays parseable."""
    print(message, file=sys.stderr, flush=True)


def which(tool: str, *, hint: str) -> str:
    """Path of `tool` on PATH, or a SwarmhubError that says how to get it."""
    path = shutil.which(tool)
    if path is None:
        raise SwarmhubError(f"'{tool}' was not found on PATH", hint=hint)
    return path


def run(
    args: Sequence[str],
    *,
    capture: bool = False,
    quiet: bool = False,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    input: str | bytes | None = None,
    on_line: Callable[[str], None] | None = None,
    redact: Sequence[str] = (),
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `args`; stream its output unless `capture`; raise SwarmhubError on failure.

    capture: return stdout instead of streaming it (stderr still streams).
    quiet: do not echo the command (for frequent polls).
    on_line: called with every output line (for progress parsing).
    redact: strings replaced by '***' in echoed commands and errors.
    """
    args = [str(a) for a in args]
    shown = shlex.join(args)
    for secret in redact:
        if secret:
            shown = shown.replace(secret, "***")
    if not quiet:
        echo(f"+ {shown}")
    full_env = None
    if env is not None:
        full_env = {**os.environ, **env}
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if capture else subprocess.STDOUT,
            env=full_env,
            cwd=cwd,
            text=isinstance(input, str) or input is None,
        )
    except FileNotFoundError as exc:
        raise SwarmhubError(f"'{args[0]}' was not found on PATH") from exc

    if capture:
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            proc.communicate()
            raise SwarmhubError(f"timed out after {timeout:.0f}s: {shown}") from exc
        out = out if isinstance(out, str) else out.decode()
        err = err if isinstance(err, str) else (err or b"").decode()
        for line in err.splitlines()[-_TAIL_LINES:]:
            tail.append(line)
        result = subprocess.CompletedProcess(args, proc.returncode, out, err)
    else:
        if input is not None:
            assert proc.stdin is not None
            proc.stdin.write(input)
            proc.stdin.close()
        assert proc.stdout is not None
        lines = []
        for raw in proc.stdout:
            line = raw if isinstance(raw, str) else raw.decode(errors="replace")
            line = line.rstrip("\n")
            for secret in redact:
                if secret:
                    line = line.replace(secret, "***")
            tail.append(line)
            if on_line is not None:
                on_line(line)
            if not quiet:
                print(line, file=sys.stderr, flush=True)
            lines.append(line)
        proc.wait(timeout=timeout)
        result = subprocess.CompletedProcess(args, proc.returncode, "\n".join(lines), "")

    if check and result.returncode != 0:
        last = " | ".join(line.strip() for line in tail if line.strip())
        for secret in redact:
            if secret:
                last = last.replace(secret, "***")
        raise SwarmhubError(
            f"command failed (exit {result.returncode}): {shown}" + (f": {last}" if last else "")
        )
    return result


def start_daemon(
    args: Sequence[str],
    *,
    log: str | os.PathLike[str],
    detach: bool = True,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen:
    """Start a long-running tool in the background, its output appended to `log`.

    The command is echoed like `run()`'s. detach: a session of its own, so it
    outlives the CLI that started it (the engine, a node's dockerd, the pool
    agent); otherwise it stays in the caller's process group and dies with it.
    """
    args = [str(a) for a in args]
    echo(f"+ {shlex.join(args)} >> {log}")
    full_env = {**os.environ, **env} if env is not None else None
    try:
        with open(log, "ab") as out:
            return subprocess.Popen(  # noqa: S603 - an argument list, never a shell
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=full_env,
                start_new_session=detach,
            )
    except FileNotFoundError as exc:
        raise SwarmhubError(f"'{args[0]}' was not found on PATH") from exc


def write_atomic(path: str | os.PathLike[str], data: str | bytes, mode: int = 0o644) -> bool:
    """Replace `path` with `data` in one step (a reader never sees half a file),
    created with `mode` (0o600 for secrets). False when it held `data` already."""
    from pathlib import Path

    path = Path(path)
    raw = data.encode() if isinstance(data, str) else data
    if path.exists() and path.read_bytes() == raw:
        os.chmod(path, mode)
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(raw)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return True
