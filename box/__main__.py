"""`python -m box up|down|status|image`: an AWS on this machine whose instances boot.

up      build the image (cached), make the namespace, start the controller
        (moto's server at http://100.64.250.2:5000, the metadata service, a
        machine per running instance); returns when moto answers.
down    stop every machine, the controller and moto; remove the namespace.
status  the controller's view of each instance (state, boot seconds, memory).
image   build (or find) the image only and print its path.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from box import controller, image, machine, network

PIDFILE = machine.STATE / "controller.pid"
ENDPOINT = f"http://{network.NS_ADDRESS}:{controller.MOTO_PORT}"


def _pid() -> int:
    try:
        pid = int(PIDFILE.read_text())
    except (OSError, ValueError):
        return 0
    return pid if machine.alive(pid) else 0


def up(timeout: float = 120) -> str:
    """Start the box (safe to re-run); return moto's endpoint."""
    tree = image.worker_tree()
    network.up()
    if not _pid():
        machine.STATE.mkdir(parents=True, exist_ok=True)
        process = subprocess.Popen(
            [
                "nsenter",
                f"--net=/run/netns/{network.NETNS}",
                sys.executable,
                "-m",
                "box",
                "serve",
                str(tree),
            ],
            stdout=open(machine.STATE / "controller.log", "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=str(image.REPO),
        )
        PIDFILE.write_text(str(process.pid))
    controller.wait_for_moto(ENDPOINT, time.monotonic() + timeout)
    return ENDPOINT


def down(timeout: float = 180) -> None:
    """Stop the controller (it powers its machines off), then the namespace."""
    pid = _pid()
    if pid:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while machine.alive(pid) and time.monotonic() < deadline:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.3)
        if machine.alive(pid):
            os.killpg(pid, signal.SIGKILL)
    PIDFILE.unlink(missing_ok=True)
    # Whatever a killed controller left: its machines and their mounts.
    if machine.STATE.exists():
        for entry in machine.STATE.iterdir():
            if entry.is_dir() and entry.name.startswith("i-"):
                m = machine.Machine(entry.name, "", 0, "", entry)
                machine.remove(m)
    machine.cgroups_remove_all()
    network.down()
    controller.STATUS.unlink(missing_ok=True)


def status() -> dict:
    try:
        return json.loads(controller.STATUS.read_text())
    except (OSError, ValueError):
        return {}


def main(argv: list[str]) -> int:
    verb = argv[0] if argv else ""
    try:
        if verb == "up":
            print(up())
        elif verb == "down":
            down()
        elif verb == "status":
            print(json.dumps({"controller": bool(_pid()), "instances": status()}, indent=2))
        elif verb == "image":
            print(image.worker_tree())
        elif verb == "serve" and len(argv) == 2:
            controller.serve(Path(argv[1]))
        else:
            print("usage: python -m box up|down|status|image", file=sys.stderr)
            return 2
    except image.BoxError as err:
        print(f"box: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
