"""Mount sources the hub checks, and makes, without following a link.

A server's bind mounts name host paths under the homes' storage: the user's
home, a course's shared folder, its nbgrader exchange. Users can write inside
some of them (staff the whole exchange, a student their home), so any name
below a trusted root may have been replaced by a link: `exchange/inbound/bob`
-> `../../../../victim` would have the engine mount another person's home.

Every path is therefore walked one component at a time from the trusted root
with `openat(O_DIRECTORY | O_NOFOLLOW)`: a link, a file or `..` anywhere on the
way refuses the spawn (`Unsafe`, one line for the user); a missing folder is
made and given to the notebook user, and nothing that already exists is
chowned. What closes the window between this check and the engine's mount is
that no user can rename a parent of a mount source (swarmhub.hub.courses.mounts:
staff get the exchange's inbound and outbound as mounts of their own, which
their container cannot rename or replace).
"""

from __future__ import annotations

import errno
import os
import stat

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class Unsafe(Exception):
    """A mount source is not a plain folder under its trusted root."""

    def __init__(self, shown: str, why: str):
        super().__init__(f"{shown} {why}")
        self.shown, self.why = shown, why


def ensure_dirs(root: str, relative: str, uid: int, create: bool = True, mode: int = 0o755):
    """Make sure `root`/`relative` is a folder reached through folders only.

    `root` is trusted (the operator's homes directory, as the hub sees it);
    `relative` is walked without following links. Missing components are made
    with `mode`, owned by `uid`, when `create`; otherwise they refuse.
    Raises Unsafe naming the first component that is a link, not a folder, or
    (without `create`) missing.
    """
    parts = [p for p in relative.split("/") if p]
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    done: list[str] = []
    try:
        for part in parts:
            done.append(part)
            shown = "/".join(done)
            if part in (".", ".."):
                raise Unsafe(shown, "is not a plain folder name")
            try:
                child = _open_dir(fd, part, shown)
            except FileNotFoundError:
                if not create:
                    raise Unsafe(shown, "does not exist") from None
                try:
                    os.mkdir(part, mode, dir_fd=fd)
                    made = True
                except FileExistsError:
                    made = False  # made meanwhile (another spawn): checked below
                child = _open_dir(fd, part, shown)
                if made:
                    os.fchown(child, uid, uid)
            os.close(fd)
            fd = child
    finally:
        os.close(fd)


def _open_dir(parent: int, name: str, shown: str) -> int:
    try:
        return os.open(name, _DIR, dir_fd=parent)
    except OSError as exc:
        if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
            raise
        try:
            link = stat.S_ISLNK(os.lstat(name, dir_fd=parent).st_mode)
        except FileNotFoundError:
            raise exc from None
        raise Unsafe(shown, "is a link" if link else "is not a folder") from None


def relative_to(path: str, root: str) -> str | None:
    """`path` below `root` ("" for root itself), or None if it is not under it."""
    path, root = path.rstrip("/"), root.rstrip("/")
    if path == root:
        return ""
    if path.startswith(root + "/"):
        return path[len(root) + 1 :]
    return None
