"""What root does inside a user's tree, without following anything the user made.

A student owns her home and may race us: leave a link at any name we might
use, swap a file or a folder for a link between our look and our act. So every
path below a trusted root is reached one component at a time from an open
directory descriptor with O_NOFOLLOW (openat and friends), never by a path
string the kernel would resolve through her links; what we look at (fstat) is
what we then read or write. A link met on the way is refused, not followed.

What root writes here is given to the tree's owner, without setuid, setgid or
sticky bits, and appears under its final name only when complete (created
under a fresh name with O_EXCL, then renamed, which replaces a name and never
follows it).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from swarmhub.errors import SwarmhubError

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a fifo never blocks
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class LinkRefused(SwarmhubError):
    """A component of a path below the root is a link (or not what it was)."""


def plain_mode(mode: int) -> int:
    """Permission bits only: setuid, setgid and sticky never survive."""
    return stat.S_IMODE(mode) & 0o777


def open_root(path: Path) -> int:
    """The root of a user's tree; refused if its last component is a link."""
    try:
        return os.open(path, _DIR)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise LinkRefused(f"{path} is a link or not a directory: refused") from None
        raise


def _parts(rel: str) -> list[str]:
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if ".." in parts or rel.startswith("/"):
        raise LinkRefused(f"{rel!r} leaves the tree: refused")
    return parts


def open_dir(root_fd: int, rel: str, *, owner: tuple[int, int] | None = None) -> int:
    """A directory below the root, each component opened without following a
    link; missing ones are made (mode 0o755, given to `owner`) when an owner is given."""
    fd = os.dup(root_fd)
    try:
        for name in _parts(rel):
            try:
                sub = os.open(name, _DIR, dir_fd=fd)
            except FileNotFoundError:
                if owner is None:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o700, dir_fd=fd)
                sub = os.open(name, _DIR, dir_fd=fd)
                os.fchown(sub, *owner)
                os.fchmod(sub, 0o755)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise LinkRefused(f"{rel}: {name} is a link or not a folder: refused") from None
                raise
            os.close(fd)
            fd = sub
        return fd
    except BaseException:
        os.close(fd)
        raise


def split(rel: str) -> tuple[str, str]:
    parent, _, name = rel.rpartition("/")
    _parts(rel)
    return parent, name


def at(root_fd: int, rel: str, fn):
    """fn(parent dir fd, name) for `rel` below the root, its folders reached
    without following a link; None if a folder on the way is missing."""
    parent, name = split(rel)
    try:
        pfd = open_dir(root_fd, parent)
    except FileNotFoundError:
        return None
    try:
        return fn(pfd, name)
    finally:
        os.close(pfd)


def lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def open_file(dir_fd: int, name: str) -> tuple[int, os.stat_result] | None:
    """A regular file to read, and its fstat; None if the name is now something
    else (a link, a fifo, gone): what was looked at is not what is there."""
    try:
        fd = os.open(name, _READ, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOENT, errno.ENXIO, errno.EACCES):
            return None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        return None
    return fd, st


def walk(root_fd: int, rel: str = "") -> Iterator[tuple[str, os.stat_result, int]]:
    """(relative path, lstat, parent dir fd) of every entry below the root, top
    down, sorted, never following a link. The parent fd is open only while its
    entries are yielded. A folder that is no longer the one listed is refused."""
    with os.scandir(root_fd) as it:
        names = sorted(e.name for e in it)
    for name in names:
        path = f"{rel}/{name}" if rel else name
        st = lstat_at(root_fd, name)
        if st is None:
            continue  # gone meanwhile
        yield path, st, root_fd
        if stat.S_ISDIR(st.st_mode):
            try:
                sub = os.open(name, _DIR, dir_fd=root_fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
                    raise LinkRefused(f"{path}: swapped while being read: refused") from None
                raise
            try:
                now = os.fstat(sub)
                if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                    raise LinkRefused(f"{path}: swapped while being read: refused")
                yield from walk(sub, path)
            finally:
                os.close(sub)


def write_file(
    dir_fd: int, name: str, chunks, *, mode: int, owner: tuple[int, int], mtime: float | None
) -> None:
    """Write `name` in the open directory: a fresh O_EXCL name, owner and plain
    mode set on the descriptor, then renamed over `name` (a link at `name` is
    replaced, never followed). A folder at `name` is refused."""
    old = lstat_at(dir_fd, name)
    if old is not None and stat.S_ISDIR(old.st_mode):
        raise SwarmhubError(f"{name}: a folder where a file goes: refused")
    part = f".{name[:200]}.{secrets.token_hex(8)}.swarmhub-part"
    fd = os.open(part, _NEW, 0o600, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb", closefd=False) as f:
            for block in chunks:
                f.write(block)
        os.fchown(fd, *owner)
        os.fchmod(fd, plain_mode(mode))
        if mtime is not None:
            os.utime(fd, (mtime, mtime))
        os.close(fd)
        fd = -1
        os.replace(part, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(part, dir_fd=dir_fd)
        raise


def make_symlink(dir_fd: int, name: str, target: str, *, owner: tuple[int, int]) -> None:
    old = lstat_at(dir_fd, name)
    if old is not None:
        if stat.S_ISDIR(old.st_mode):
            raise SwarmhubError(f"{name}: a folder where a link goes: refused")
        os.unlink(name, dir_fd=dir_fd)
    os.symlink(target, name, dir_fd=dir_fd)
    os.chown(name, *owner, dir_fd=dir_fd, follow_symlinks=False)


def sha256_at(dir_fd: int, name: str, chunk: int = 1 << 20) -> str | None:
    """The sha256 of a regular file, or None if the name is not one."""
    import hashlib

    opened = open_file(dir_fd, name)
    if opened is None:
        return None
    fd, _ = opened
    h = hashlib.sha256()
    with os.fdopen(fd, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
