"""One user's home to a verified tar and back.

archive_home: tar the home (regular files, directories, symlinks; nothing
else), with a manifest of every entry's size and sha256 taken while it is
read; store both; read the stored tar back and check it entry by entry
against the manifest; only then, and only if asked, remove exactly the files
the manifest lists, each unchanged since it was read (size and mtime), and
leave a note saying where they went. Any doubt leaves the home as it was.

restore_home: fetch the newest archive, check it against its manifest, refuse
if a file it would write exists with other contents (unless `overwrite`),
write the files, then check every one of them against the manifest.
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


def _entries(home: Path):
    """(relative path, lstat) of every entry below `home`, never following a link."""
    for root, dirs, files in os.walk(home, followlinks=False):
        dirs.sort()
        rel_root = Path(root).relative_to(home)
        for name in dirs + sorted(files):
            rel = rel_root / name
            if rel == Path(NOTE):
                continue
            yield rel, os.lstat(Path(root) / name)


def pack(home: Path, tar_path: Path) -> dict:
    """Write the tar, return its manifest (entries with size and sha256)."""
    entries, skipped = [], []
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        for rel, st in _entries(home):
            info = tarfile.TarInfo(str(rel))
            info.mtime, info.mode = st.st_mtime, stat.S_IMODE(st.st_mode)
            info.uid, info.gid = st.st_uid, st.st_gid
            entry = {"path": str(rel), "mode": info.mode, "mtime": st.st_mtime}
            if stat.S_ISDIR(st.st_mode):
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
                entry["type"] = "dir"
            elif stat.S_ISLNK(st.st_mode):
                info.type, info.linkname = tarfile.SYMTYPE, os.readlink(home / rel)
                tar.addfile(info)
                entry.update(type="symlink", target=info.linkname)
            elif stat.S_ISREG(st.st_mode):
                info.size = st.st_size
                with open(home / rel, "rb") as f:
                    reader = _Hashing(f)
                    tar.addfile(info, reader)  # raises if the file shrank meanwhile
                entry.update(type="file", size=reader.n, sha256=reader.h.hexdigest())
            else:
                skipped.append(str(rel))  # sockets, fifos: nothing to keep
                continue
            entries.append(entry)
    return {"entries": entries, "skipped": skipped}


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
    if not remove:
        done.kept_because = "--keep-homes"
    elif removable:
        done.kept_because = removable
    else:
        changed = _changed_since(home, manifest)
        if changed:
            done.kept_because = f"{len(changed)} files changed while archiving, e.g. {changed[0]}"
        else:
            done.removed = _remove(home, manifest)
    _write_note(home, done, course, now)
    return done


def _changed_since(home: Path, manifest: dict) -> list[str]:
    out = []
    for e in manifest["entries"]:
        if e["type"] != "file":
            continue
        try:
            st = os.lstat(home / e["path"])
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(st.st_mode) or st.st_size != e["size"] or st.st_mtime != e["mtime"]:
            out.append(e["path"])
    return out


def _remove(home: Path, manifest: dict) -> int:
    removed = 0
    for e in manifest["entries"]:
        if e["type"] in ("file", "symlink"):
            try:
                os.unlink(home / e["path"])
                removed += e["type"] == "file"
            except FileNotFoundError:
                pass
    # Directories deepest first, and only when empty: a file written meanwhile stays.
    for e in sorted((e for e in manifest["entries"] if e["type"] == "dir"),
                    key=lambda e: e["path"].count("/"), reverse=True):  # fmt: skip
        try:
            os.rmdir(home / e["path"])
        except OSError:
            pass
    return removed


def _write_note(home: Path, done: Archived, course: str, now: datetime) -> None:
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
    note = home / NOTE
    if note.is_symlink():
        note.unlink()  # never write through a link a student left here
    note.write_text(text)
    st = home.stat()
    try:
        os.chown(note, st.st_uid, st.st_gid)
    except PermissionError:
        pass


# --- restore ------------------------------------------------------------------


@dataclass
class Restored:
    user: str
    key: str
    files: int
    skipped_same: int


def newest(store, user: str, course: str | None) -> str:
    """The key of the user's newest archive (in `course`, or the only course that has one)."""
    keys = [k for k in store.listing(f"{course}/" if course else "") if k.endswith(".tar")]
    mine = [k for k in keys if k.split("/")[-2:-1] == [user]]
    if not mine:
        where = f"course {course}" if course else "any course"
        raise SwarmhubError(f"no archive of {user} in {where} at {store.where('')}")
    courses = sorted({k.split("/")[0] for k in mine})
    if course is None and len(courses) > 1:
        raise SwarmhubError(
            f"{user} has archives of {', '.join(courses)}: choose one with --course"
        )
    return max(mine)  # the stamp sorts by time


def restore_home(user: str, home: Path, store, key: str, *, overwrite: bool) -> Restored:
    with tempfile.TemporaryDirectory(prefix="swarmhub-restore-") as tmp:
        tar_path, manifest_path = Path(tmp) / "home.tar", Path(tmp) / "manifest.json"
        store.get(key, tar_path)
        store.get(key[: -len(".tar")] + ".manifest.json", manifest_path)
        manifest = json.loads(manifest_path.read_text())
        if sha256_of(tar_path) != manifest["tar_sha256"]:
            raise SwarmhubError(f"{store.where(key)}: checksum differs from its manifest")
        check_tar(tar_path, manifest)
        entries = manifest["entries"]
        for e in entries:
            _safe(home, e["path"])
        same, conflicts = _compare(home, entries)
        if conflicts and not overwrite:
            shown = "; ".join(conflicts[:5]) + (" ..." if len(conflicts) > 5 else "")
            raise SwarmhubError(
                f"{home}: {len(conflicts)} files exist with other contents ({shown}); "
                "nothing restored. Move them aside, or pass --overwrite"
            )
        owner = home.stat()
        written = _extract(home, tar_path, entries, same, owner)
    bad = [
        e["path"]
        for e in entries
        if e["type"] == "file" and sha256_of(home / e["path"]) != e["sha256"]
    ]
    if bad:
        raise SwarmhubError(f"{home}: {len(bad)} restored files differ, e.g. {bad[0]}")
    note = home / NOTE
    if note.is_file() and not note.is_symlink():
        note.unlink()
    return Restored(user, key, written, len(same))


def _safe(home: Path, rel: str) -> None:
    p = Path(rel)
    if p.is_absolute() or ".." in p.parts:
        raise SwarmhubError(f"archive entry {rel!r} leaves the home: refused")
    parent = (home / p).parent
    if parent.exists() and not parent.resolve().is_relative_to(home.resolve()):
        raise SwarmhubError(f"{home / p}: its directory leads out of the home: refused")


def _compare(home: Path, entries: list[dict]) -> tuple[set[str], list[str]]:
    same, conflicts = set(), []
    for e in entries:
        path = home / e["path"]
        if not os.path.lexists(path):
            continue
        if e["type"] == "dir":
            if path.is_dir() and not path.is_symlink():
                same.add(e["path"])
            else:
                conflicts.append(f"{e['path']} (not a directory)")
        elif e["type"] == "symlink":
            if path.is_symlink() and os.readlink(path) == e["target"]:
                same.add(e["path"])
            else:
                conflicts.append(f"{e['path']} (differs)")
        elif path.is_file() and not path.is_symlink() and sha256_of(path) == e["sha256"]:
            same.add(e["path"])
        else:
            newer = path.lstat().st_mtime > e["mtime"]
            conflicts.append(f"{e['path']} ({'newer' if newer else 'differs'})")
    return same, conflicts


def _extract(home: Path, tar_path: Path, entries, same: set[str], owner) -> int:
    by_path = {e["path"]: e for e in entries}
    written = 0
    with tarfile.open(tar_path, "r") as tar:
        for member in tar:
            e = by_path[member.name]
            target = home / member.name
            if member.name in same:
                continue
            if e["type"] == "dir":
                target.mkdir(parents=True, exist_ok=True)
            elif e["type"] == "symlink":
                if os.path.lexists(target):
                    target.unlink()
                os.symlink(e["target"], target)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                part = target.with_name(f".{target.name}.swarmhub-restore")
                with tar.extractfile(member) as src, open(part, "wb") as dst:
                    while block := src.read(CHUNK):
                        dst.write(block)
                os.chmod(part, e["mode"])
                os.utime(part, (e["mtime"], e["mtime"]))
                _chown(part, owner)
                if target.is_dir() and not target.is_symlink():
                    raise SwarmhubError(f"{target}: a directory where a file was")
                os.replace(part, target)
                written += 1
                continue
            _chown(target, owner)
    for e in entries:  # directories' times last: writing inside them moved them
        if e["type"] == "dir" and e["path"] not in same:
            os.chmod(home / e["path"], e["mode"])
            os.utime(home / e["path"], (e["mtime"], e["mtime"]))
    return written


def _chown(path: Path, owner) -> None:
    try:
        os.chown(path, owner.st_uid, owner.st_gid, follow_symlinks=False)
    except PermissionError:
        pass  # not root: the files are already the caller's
