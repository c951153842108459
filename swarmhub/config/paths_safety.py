"""Is a directory safe to hand to swarmhub? `local.homes_dir` and `local.state_dir`
must be directories of its own: deploy bind-mounts homes into students' servers
and `destroy --purge` deletes both recursively.

`check_dedicated` and `check_pair` are pure (the passwd homes are passed in),
so `validate` and `destroy` ask the same question; `host_problem` looks at the
filesystem (read-only) for what only the machine can tell.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable

# Directories whose whole tree belongs to the system: nothing of ours inside.
SYSTEM_TREES = (
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/proc",
    "/run",
    "/sbin",
    "/sys",
    "/usr",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/dpkg",
    "/var/lib/apt",
    "/var/lib/systemd",
    "/var/run",
    "/var/lock",
    "/var/log",
    "/var/cache",
    "/var/spool",
    "/var/mail",
    "/snap",
)
# Directories shared by many programs or users: a dedicated one may live inside,
# but never the directory itself (purging /var/lib would take every service's data).
SHARED_DIRS = (
    "/",
    "/home",
    "/root",
    "/var",
    "/var/lib",
    "/var/local",
    "/var/opt",
    "/var/tmp",
    "/var/backups",
    "/srv",
    "/opt",
    "/mnt",
    "/media",
    "/tmp",
    "/data",
    "/nfs",
    "/scratch",
)
# What the local target keeps in its state_dir (swarmhub.local.paths): homes there
# would put a student's home beside the hub's database or the secrets.
STATE_CHILDREN = ("hub", "secrets", "nodes", "image-cache", "golden")

EXAMPLE = {"homes_dir": "/var/lib/swarmhub/homes", "state_dir": "/var/lib/swarmhub"}


def _norm(path: str) -> str:
    return posixpath.normpath(path) if path else path


def _inside(path: str, parent: str) -> bool:
    """`path` is `parent` or below it (both normalised)."""
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def check_dedicated(path: str, role: str, *, user_homes: Iterable[str] = ()) -> str | None:
    """Why `path` may not be swarmhub's `role` directory ("homes_dir", "state_dir"),
    or None if it may. `user_homes`: the home directories of the machine's accounts
    (see `passwd_homes`). Pure: the filesystem is not looked at."""
    example = EXAMPLE.get(role, "/var/lib/swarmhub")
    if not path.startswith("/"):
        return f"is not an absolute path; write e.g. {example}"
    if "\0" in path or "\n" in path:
        return "contains a control character; write a plain path, e.g. " + example
    norm = _norm(path)
    if any(part == ".." for part in path.split("/")):
        return f"climbs with `..` (it is {norm}); write the directory itself, e.g. {example}"
    dedicated = f"give swarmhub a directory of its own, e.g. {example}"
    if norm == "/":
        return f"is the root of the filesystem; {dedicated}"
    for tree in SYSTEM_TREES:
        if _inside(norm, tree):
            what = "a system directory" if norm == tree else f"inside the system directory {tree}"
            return f"is {what}; {dedicated}"
    for shared in SHARED_DIRS:
        if norm == shared:
            return f"is a directory shared with the rest of the machine; {dedicated}"
    for tree in SYSTEM_TREES + SHARED_DIRS:
        if _inside(tree, norm):
            return f"holds the system directory {tree}; {dedicated}"
    for home in sorted({_norm(h) for h in user_homes if h and h.startswith("/")}):
        if home in ("/", "/nonexistent") or home in SHARED_DIRS:
            continue
        if norm == home:
            return f"is the home of an existing account ({home}); {dedicated}"
        if _inside(home, norm):
            return f"holds the home of an existing account ({home}); {dedicated}"
    return None


def check_pair(state_dir: str, homes_dir: str) -> list[tuple[str, str]]:
    """Problems of the two directories together, as (field, message)."""
    state, homes = _norm(state_dir), _norm(homes_dir)
    if not (state.startswith("/") and homes.startswith("/")):
        return []
    if state == homes:
        return [
            (
                "homes_dir",
                "is the same directory as state_dir; students' homes would sit beside the "
                "hub's database and secrets: use e.g. " + posixpath.join(state, "homes"),
            )
        ]
    if _inside(state, homes):
        return [
            (
                "state_dir",
                f"is inside homes_dir ({homes}); a student named after it would get the hub's "
                "state as a home: put them side by side, e.g. /var/lib/swarmhub and "
                "/var/lib/swarmhub/homes",
            )
        ]
    for child in STATE_CHILDREN:
        reserved = posixpath.join(state, child)
        if _inside(homes, reserved):
            return [
                (
                    "homes_dir",
                    f"is inside {reserved}, where the local target keeps its own files; "
                    "use e.g. " + posixpath.join(state, "homes"),
                )
            ]
    return []


def passwd_homes() -> list[str]:
    """Home directories of this machine's accounts (the passwd database)."""
    import pwd

    try:
        return [entry.pw_dir for entry in pwd.getpwall()]
    except OSError:
        return []


def host_problem(path: str, role: str) -> str | None:
    """What the machine says about `path` (read-only): a file in the way, a link out
    to a system directory, an existing account's home. None if it is fine."""
    homes = passwd_homes()
    problem = check_dedicated(path, role, user_homes=homes)
    if problem:
        return problem
    try:
        real = os.path.realpath(path)
    except OSError:
        real = path
    if real != _norm(path):
        problem = check_dedicated(real, role, user_homes=homes)
        if problem:
            return f"leads (through a symbolic link) to {real}, which {problem}"
    probe = path
    # The nearest part of the path that exists must be a directory.
    while True:
        try:
            st = os.stat(probe)
        except FileNotFoundError:
            parent = posixpath.dirname(probe.rstrip("/")) or "/"
            if parent == probe:
                return None
            probe = parent
            continue
        except NotADirectoryError:
            parent = posixpath.dirname(probe.rstrip("/")) or "/"
            probe = parent
            continue
        except PermissionError:
            return f"cannot be looked at ({probe}: permission denied); run as root or fix it"
        import stat

        if not stat.S_ISDIR(st.st_mode):
            if probe == path:
                return "exists and is a file, not a directory; remove it or choose another path"
            return f"cannot be made: {probe} is a file, not a directory"
        return None


def check_purge(state_dir: str, homes_dir: str) -> list[str]:
    """For `destroy --purge`: every reason not to delete these two trees, one line each
    ("local.homes_dir: `/home` is ..."). Empty: both are dedicated directories."""
    out = []
    for role, path in (("state_dir", state_dir), ("homes_dir", homes_dir)):
        problem = host_problem(path, role)
        if problem:
            out.append(f"local.{role}: `{path}` {problem}")
    for field, problem in check_pair(state_dir, homes_dir):
        value = state_dir if field == "state_dir" else homes_dir
        out.append(f"local.{field}: `{value}` {problem}")
    return out
