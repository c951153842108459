"""One user's archived home back: the newest archive, checked against its
manifest; refused if a file it would write exists with other contents (unless
`overwrite`); the files written; then every one checked against the manifest.
"""

from __future__ import annotations

import json
import os
import stat
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from swarmhub import userfs
from swarmhub.archive.homes import CHUNK, NOTE, check_tar, sha256_of
from swarmhub.errors import SwarmhubError

NOTEBOOK_UID = 1000  # who owns homes when no archive says (the spawner's home_uid)


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
    """Write the archive back into `home`, as its owner would have: every path
    reached without following a link (a link on the way is refused), each file
    created under a fresh name and renamed into place, given to the home's
    owner with plain permission bits. A home that is gone is made anew for the
    owner the archive recorded."""
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
            try:
                userfs.split(e["path"])
            except userfs.LinkRefused:
                raise SwarmhubError(
                    f"archive entry {e['path']!r} leaves the home: refused"
                ) from None
        if not os.path.lexists(home):
            uid, gid = manifest.get("owner") or (NOTEBOOK_UID, NOTEBOOK_UID)
            os.mkdir(home, 0o700)
            os.chown(home, uid, gid)
            os.chmod(home, 0o750)  # noqa: S103 (a home, as the spawner makes it)
        root = userfs.open_root(home)
        try:
            st = os.fstat(root)
            owner = (st.st_uid, st.st_gid)
            same, conflicts = _compare(root, entries)
            if conflicts and not overwrite:
                shown = "; ".join(conflicts[:5]) + (" ..." if len(conflicts) > 5 else "")
                raise SwarmhubError(
                    f"{home}: {len(conflicts)} files exist with other contents ({shown}); "
                    "nothing restored. Move them aside, or pass --overwrite"
                )
            written = _extract(root, tar_path, entries, same, owner)
            files = [e for e in entries if e["type"] == "file"]
            bad = [
                e["path"]
                for e in files
                if userfs.at(root, e["path"], userfs.sha256_at) != e["sha256"]
            ]
            if bad:
                raise SwarmhubError(f"{home}: {len(bad)} restored files differ, e.g. {bad[0]}")
            note = userfs.lstat_at(root, NOTE)
            if note is not None and stat.S_ISREG(note.st_mode):
                os.unlink(NOTE, dir_fd=root)
        finally:
            os.close(root)
    return Restored(user, key, written, len(same))


def _compare(root: int, entries: list[dict]) -> tuple[set[str], list[str]]:
    """Entries already there as archived, and those in the way. A link on the
    way to an entry is refused outright: nothing is written through it."""
    same, conflicts = set(), []
    for e in entries:
        parent, name = userfs.split(e["path"])
        try:
            pfd = userfs.open_dir(root, parent)
        except FileNotFoundError:
            continue
        try:
            st = userfs.lstat_at(pfd, name)
            if st is None:
                continue
            if e["type"] == "dir":
                if stat.S_ISDIR(st.st_mode):
                    same.add(e["path"])
                else:
                    conflicts.append(f"{e['path']} (not a directory)")
            elif e["type"] == "symlink":
                if stat.S_ISLNK(st.st_mode) and os.readlink(name, dir_fd=pfd) == e["target"]:
                    same.add(e["path"])
                else:
                    conflicts.append(f"{e['path']} (differs)")
            elif stat.S_ISREG(st.st_mode) and userfs.sha256_at(pfd, name) == e["sha256"]:
                same.add(e["path"])
            else:
                newer = st.st_mtime > e["mtime"]
                conflicts.append(f"{e['path']} ({'newer' if newer else 'differs'})")
        finally:
            os.close(pfd)
    return same, conflicts


def _chunks(f):
    while block := f.read(CHUNK):
        yield block


def _extract(root: int, tar_path: Path, entries, same: set[str], owner) -> int:
    by_path = {e["path"]: e for e in entries}
    written = 0
    with tarfile.open(tar_path, "r") as tar:
        for member in tar:
            e = by_path[member.name]
            if member.name in same:
                continue
            parent, name = userfs.split(member.name)
            pfd = userfs.open_dir(root, parent, owner=owner)
            try:
                if e["type"] == "dir":
                    os.close(userfs.open_dir(pfd, name, owner=owner))
                elif e["type"] == "symlink":
                    userfs.make_symlink(pfd, name, e["target"], owner=owner)
                else:
                    with tar.extractfile(member) as src:
                        userfs.write_file(
                            pfd, name, _chunks(src), mode=e["mode"], owner=owner, mtime=e["mtime"]
                        )
                    written += 1
            finally:
                os.close(pfd)
    for e in entries:  # directories' modes and times last: writing inside them moved them
        if e["type"] == "dir" and e["path"] not in same:
            dfd = userfs.open_dir(root, e["path"])
            try:
                os.fchmod(dfd, userfs.plain_mode(e["mode"]))
                os.utime(dfd, (e["mtime"], e["mtime"]))
            finally:
                os.close(dfd)
    return written
