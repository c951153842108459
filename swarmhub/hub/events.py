"""What the hub records about its servers, for `report` and `simulate --replay`.

The spawner calls four functions here, each a line in its start(), stop() and
poll(); they append trace.py's events (one format for what the hub records,
what `report` exports and what the simulator replays) to the events file in
the hub's state directory:

    requested(spawner)        start() begins: spawn_requested
    await started(spawner)    the server answers: server_started, with its wait
    stopped(spawner, reason)  server_stopped: stop() ("user" or "culled"),
                              a start that raised ("failed")
    polled(spawner, status)   poll() found it gone ("lost" when its node is
                              down, else "failed"): JupyterHub's User.stop()
                              calls spawner.stop() only for a server poll()
                              says is running, so this is the only place such
                              a stop is seen

Recording must never fail or slow a spawn: every function here catches its
own errors and logs one warning for the process's first failure (a full disk
would otherwise log at every spawn).

Only the standard library and trace.py are imported: the operator's CLI
(`report`) reads the same file with its base dependencies alone.

Where the file lives: `SWARMHUB_EVENTS_FILE`, else `events.jsonl` in the hub's
state directory (/srv/jupyterhub in the hub container; locally that is
`<local.state_dir>/hub/events.jsonl` on the host, see `local_events_file`; on
AWS `<state volume>/hub/events.jsonl` on the manager).
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from swarmhub.autoscaler.trace import ServerEvent

FILE_NAME = "events.jsonl"
FILE_ENV = "SWARMHUB_EVENTS_FILE"
HUB_STATE_DIR = "/srv/jupyterhub"  # swarmhub.swarm.specs.STATE_DIR, the hub's view

log = logging.getLogger("swarmhub.events")

# A stop counts as the culler's when the server had been idle this long (the
# culler's own timeout, less a margin for its polling). None: never "culled".
# The hub's config sets it from servers.idle_timeout (see `configure`).
cull_idle_seconds: float | None = None

_lock = threading.Lock()
_warned = False
_ATTR = "_swarmhub_recorded"  # per-spawner bookkeeping, on the spawner object


def utcnow() -> datetime:
    """The clock; a standalone function so tests can replace it."""
    return datetime.now(UTC)


def events_file() -> Path:
    return Path(os.environ.get(FILE_ENV) or f"{HUB_STATE_DIR}/{FILE_NAME}")


def local_events_file(cfg) -> Path:
    """The hub's events file as the local target's host sees it."""
    from swarmhub.local.paths import paths

    return paths(cfg).hub_state / FILE_NAME


def configure(idle_timeout: float | None) -> None:
    """Tell the recorder the culler's idle timeout (servers.idle_timeout, 0 = no culler)."""
    global cull_idle_seconds
    cull_idle_seconds = 0.9 * idle_timeout if idle_timeout else None


# --- hooks: what a server belongs to -------------------------------------------


def course_of(spawner) -> str | None:
    """The course a server belongs to: THE place to wire the courses config.

    The spawner's `course` (set at each spawn from the `courses:` section,
    swarmhub.hub.courses), else `user_options["course"]`, else none.
    """
    course = getattr(spawner, "course", "") or (_options(spawner).get("course") or "")
    return str(course) or None


def profile_of(spawner) -> str | None:
    return _options(spawner).get("profile") or None


def _options(spawner) -> dict:
    options = getattr(spawner, "user_options", None)
    return options if isinstance(options, dict) else {}


def node_of(spawner) -> str | None:
    """The node id the packing pinned this server to (`node.id==...`), if any."""
    spec = getattr(spawner, "extra_placement_spec", None) or {}
    for c in spec.get("constraints") or []:
        if isinstance(c, str) and c.replace(" ", "").startswith("node.id=="):
            return c.split("==", 1)[1].strip()
    return None


# --- the calls the spawner makes ------------------------------------------------


def requested(spawner) -> None:
    try:
        now = utcnow()
        setattr(spawner, _ATTR, {"asked": now, "node": None, "stopped": False})
        _write(_event(spawner, now, "spawn_requested"))
    except Exception as exc:  # noqa: BLE001 - recording never fails a spawn
        _warn(spawner, exc)


async def started(spawner) -> None:
    try:
        now = utcnow()
        mine = _state(spawner)
        node = node_of(spawner)
        if node is None:
            try:
                task = await spawner.get_task()
                node = (task or {}).get("NodeID")
            except Exception:  # noqa: BLE001 - the node is a nice-to-have
                node = None
        mine["node"] = node
        wait = (now - mine["asked"]).total_seconds() if mine.get("asked") else None
        _write(_event(spawner, now, "server_started", spawn_wait_seconds=wait, node=node))
    except Exception as exc:  # noqa: BLE001
        _warn(spawner, exc)


def stopped(spawner, reason: str | None = None) -> None:
    """A stop: `reason` if given, else "culled" or "user" from the server's idle time."""
    try:
        mine = _state(spawner)
        if mine.get("stopped"):
            return  # already recorded (a failed start, then JupyterHub's cleanup)
        mine["stopped"] = True
        now = utcnow()
        why = reason or _stop_reason(spawner, now)
        _write(_event(spawner, now, "server_stopped", node=mine.get("node"), reason=why))
    except Exception as exc:  # noqa: BLE001
        _warn(spawner, exc)


def polled(spawner, status, lost: bool = False) -> None:
    """poll()'s answer: a non-None status is a server that is gone."""
    if status is None:
        return
    stopped(spawner, "lost" if lost else "failed")


# --- inside ---------------------------------------------------------------------


def _state(spawner) -> dict:
    mine = getattr(spawner, _ATTR, None)
    if mine is None:
        # A spawner the hub made after a restart, for a server it already had.
        mine = {"asked": None, "node": None, "stopped": False}
        setattr(spawner, _ATTR, mine)
    return mine


def _stop_reason(spawner, now: datetime) -> str:
    if cull_idle_seconds is None:
        return "user"
    last = getattr(getattr(spawner, "orm_spawner", None), "last_activity", None)
    if last is None:
        return "user"
    if last.tzinfo is None:
        last = last.replace(tzinfo=UTC)  # JupyterHub's database keeps naive UTC
    return "culled" if (now - last).total_seconds() >= cull_idle_seconds else "user"


def _event(spawner, when: datetime, event: str, **extra) -> ServerEvent:
    mem = getattr(spawner, "mem_guarantee", None)
    cpu = getattr(spawner, "cpu_guarantee", None)
    return ServerEvent(
        time=when,
        event=event,
        user=spawner.user.name,
        course=course_of(spawner),
        profile=profile_of(spawner),
        mem_reservation=int(mem) if mem else None,
        cpu_reservation=float(cpu) if cpu else None,
        **extra,
    )


def _write(event: ServerEvent) -> None:
    path = events_file()
    line = event.to_json() + "\n"
    with _lock:
        # One write of one line on a file opened for appending: lines of
        # concurrent spawns never interleave.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


def _warn(spawner, exc: Exception) -> None:
    global _warned
    if _warned:
        return
    _warned = True
    logger = getattr(spawner, "log", None) or log
    logger.warning(
        "could not record a server event in %s (report will miss it; "
        "further failures are not logged): %s",
        events_file(),
        exc,
    )
