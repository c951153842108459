"""One user's home to a verified tar and back.

archive_home: tar the home (regular files, directories, symlinks; nothing
else), with a manifest of every entry's size and sha256 taken while it is
read; store both; read the stored tar back and check it entry by entry
against the manifest; only then, and only if asked, remove exactly the files
the manifest lists, each unchanged since it was read (size and mtime), and
leave a note saying where they went. Any doubt leaves the home as it was.

Restoring one back: swarmhub/archive/restoring.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from swarmhub import userfs
from swarmhub.errors import SwarmhubError

NOTE = "WHERE-ARE-MY-FILES.txt"
CHUNK = 1 << 20


def utcnow() -> datetime:
    return datetime.now(UTC)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


class _Hashing:
    """A file object that hashes what tarfile reads from it."""

    def __init__(self, f):
        self.f, self.h, self.n = f, hashlib.sha256(), 0

    def read(self, size=-1):
        data = self.f.read(size)
        self.h.update(data)
        self.n += len(data)
        return data


@dataclass
class Archived:
    user: str
    key: str  # the tar's key in the store
    where: str
    files: int
    bytes: int
    removed: int  # files removed from the home (0 when kept)
    kept_because: str = ""  # why the home was left as it was, if it was


def pack(home: Path, tar_path: Path) -> dict:
    """Write the tar, return its manifest (entries with size and sha256).

    The home is read through descriptors (swarmhub.userfs): a file the student
    swaps for a link after it was looked at is left out, never followed."""
    entries, skipped = [], []
    root = userfs.open_root(home)
    try:
        owner = os.fstat(root)
        with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
            for rel, st, parent in userfs.walk(root):
                if rel == NOTE:
                    continue
                name = rel.rpartition("/")[2]
                info = tarfile.TarInfo(rel)
                info.mtime, info.mode = st.st_mtime, userfs.plain_mode(st.st_mode)
                info.uid, info.gid = st.st_uid, st.st_gid
                entry = {"path": rel, "mode": info.mode, "mtime": st.st_mtime}
                if stat.S_ISDIR(st.st_mode):
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                    entry["type"] = "dir"
                elif stat.S_ISLNK(st.st_mode):
                    info.type, info.linkname = tarfile.SYMTYPE, os.readlink(name, dir_fd=parent)
                    tar.addfile(info)
                    entry.update(type="symlink", target=info.linkname)
                elif stat.S_ISREG(st.st_mode):
                    why = _add_file(tar, info, entry, parent, name, st, owner.st_uid)
                    if why:
                        skipped.append(f"{rel} ({why})")
                        continue
                else:
                    skipped.append(rel)  # sockets, fifos: nothing to keep
                    continue
                entries.append(entry)
    finally:
        os.close(root)
    return {"entries": entries, "skipped": skipped, "owner": [owner.st_uid, owner.st_gid]}


def _add_file(tar, info, entry, parent: int, name: str, st, home_uid: int) -> str:
    """Add one regular file, read from the descriptor that was checked; '' or why not."""
    opened = userfs.open_file(parent, name)
    if opened is None:
        return "changed while read"
    fd, now = opened
    with os.fdopen(fd, "rb") as f:
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            return "changed while read"
        if now.st_nlink > 1 and now.st_uid != home_uid:
            return "a hard link to a file of someone else"
        info.size, info.mtime = now.st_size, now.st_mtime
        reader = _Hashing(f)
        tar.addfile(info, reader)  # raises if the file shrank meanwhile
    entry.update(
        type="file", size=reader.n, sha256=reader.h.hexdigest(), mtime=now.st_mtime,
        ino=now.st_ino,
    )  # fmt: skip
    return ""


def check_tar(tar_path: Path, manifest: dict) -> None:
    """Every entry of the manifest is in the tar with the same size and sha256."""
    want = {e["path"]: e for e in manifest["entries"]}
    seen = set()
    with tarfile.open(tar_path, "r") as tar:
        for member in tar:
            e = want.get(member.name)
            if e is None:
                raise SwarmhubError(f"{tar_path}: {member.name} is not in the manifest")
            seen.add(member.name)
            if e["type"] == "file":
                h = hashlib.sha256()
                f = tar.extractfile(member)
                while block := f.read(CHUNK):
                    h.update(block)
                if member.size != e["size"] or h.hexdigest() != e["sha256"]:
                    raise SwarmhubError(f"{tar_path}: {member.name} differs from the manifest")
    missing = set(want) - seen
    if missing:
        raise SwarmhubError(f"{tar_path}: {len(missing)} entries missing, e.g. {min(missing)}")


def archive_home(
    user: str,
    home: Path,
    store,
    course: str,
    *,
    remove: bool,
    removable: str = "",
    now: datetime | None = None,
) -> Archived:
    """`removable`: "" if the home may be emptied, else why not (then it is kept)."""
    now = now or utcnow()
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    key = f"{course}/{user}/{stamp}.tar"
    with tempfile.TemporaryDirectory(prefix="swarmhub-archive-") as tmp:
        tar_path, back = Path(tmp) / "home.tar", Path(tmp) / "stored.tar"
        manifest = pack(home, tar_path)
        manifest.update(
            user=user,
            course=course,
            created=now.isoformat(),
            tar_size=tar_path.stat().st_size,
            tar_sha256=sha256_of(tar_path),
        )
        store.put(key, tar_path)
        # What is stored, read back: the copy we rely on, not the one we made.
        if store.size(key) != manifest["tar_size"]:
            raise SwarmhubError(f"{store.where(key)}: stored size differs; {home} kept")
        store.get(key, back)
        if sha256_of(back) != manifest["tar_sha256"]:
            raise SwarmhubError(f"{store.where(key)}: stored checksum differs; {home} kept")
        check_tar(back, manifest)
        manifest_path = Path(tmp) / "manifest.json"
        manifest_path.write_text(json.dumps(manifest, indent=1))
        store.put(key[: -len(".tar")] + ".manifest.json", manifest_path)

    files = [e for e in manifest["entries"] if e["type"] == "file"]
    done = Archived(user, key, store.where(key), len(files), sum(e["size"] for e in files), 0)
    root = userfs.open_root(home)
    try:
        if not remove:
            done.kept_because = "--keep-homes"
        elif removable:
            done.kept_because = removable
        else:
            changed = _changed_since(root, manifest)
            if changed:
                done.kept_because = (
                    f"{len(changed)} files changed while archiving, e.g. {changed[0]}"
                )
            else:
                done.removed = _remove(root, manifest)
        _write_note(root, done, course, now)
    finally:
        os.close(root)
    return done


def _changed_since(root: int, manifest: dict) -> list[str]:
    out = []
    for e in manifest["entries"]:
        if e["type"] != "file":
            continue
        try:
            st = userfs.at(root, e["path"], userfs.lstat_at)
        except userfs.LinkRefused:
            out.append(e["path"])
            continue
        if st is None:
            continue
        if (
            not stat.S_ISREG(st.st_mode)
            or st.st_size != e["size"]
            or st.st_mtime != e["mtime"]
            or st.st_ino != e.get("ino", st.st_ino)
        ):
            out.append(e["path"])
    return out


def _remove(root: int, manifest: dict) -> int:
    """Remove what the manifest lists, each reached without following a link
    and only if it is still what was archived."""
    removed = 0
    for e in manifest["entries"]:
        if e["type"] not in ("file", "symlink"):
            continue
        parent, name = userfs.split(e["path"])
        try:
            pfd = userfs.open_dir(root, parent)
        except (FileNotFoundError, userfs.LinkRefused):
            continue
        try:
            st = userfs.lstat_at(pfd, name)
            if st is None:
                continue
            if e["type"] == "symlink" and not stat.S_ISLNK(st.st_mode):
                continue
            if e["type"] == "file" and (
                not stat.S_ISREG(st.st_mode) or st.st_ino != e.get("ino", st.st_ino)
            ):
                continue
            os.unlink(name, dir_fd=pfd)
            removed += e["type"] == "file"
        finally:
            os.close(pfd)
    # Directories deepest first, and only when empty: a file written meanwhile stays.
    for e in sorted((e for e in manifest["entries"] if e["type"] == "dir"),
                    key=lambda e: e["path"].count("/"), reverse=True):  # fmt: skip
        parent, name = userfs.split(e["path"])
        try:
            pfd = userfs.open_dir(root, parent)
        except (OSError, SwarmhubError):
            continue
        try:
            os.rmdir(name, dir_fd=pfd)
        except OSError:
            pass
        finally:
            os.close(pfd)
    return removed


def _write_note(root: int, done: Archived, course: str, now: datetime) -> None:
    text = (
        f"Your files from {course} were archived on {now:%Y-%m-%d} to\n"
        f"    {done.where}\n"
        f"({done.files} files, {done.bytes / 1024**2:.1f} MiB, checked by sha256).\n"
    )
    if done.removed:
        text += "They were then removed from this home.\n"
    else:
        text += "They are also still here.\n"
    text += (
        "To get them back, ask your instructor to run:\n"
        f"    python pipeline.py restore {done.user} --course {course}\n"
    )
    st = os.fstat(root)
    # A link a student left at the note's name is replaced, never written through.
    userfs.write_file(
        root, NOTE, [text.encode()], mode=0o644, owner=(st.st_uid, st.st_gid), mtime=None
    )
