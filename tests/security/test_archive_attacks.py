"""archive and restore run as root on a student's home: the student's attacks.

The student is uid 1000 in her own home (as in her server). She may leave links
at any name she can guess, swap a file or a folder for a link while root reads
or writes, and set any mode and time on what is hers. None of it may lead root
to read, write or delete outside her home, or give her a file she could not
have made herself.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from swarmhub import archive as archiving
from swarmhub.archive.homes import NOTE
from swarmhub.archive.store import LocalStore
from swarmhub.config import parse_config
from swarmhub.errors import SwarmhubError
from swarmhub.local.paths import MARK

STUDENT = 1000

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the attacks need root to matter")


def _as_student(path: Path) -> None:
    os.chown(path, STUDENT, STUDENT, follow_symlinks=False)


def _student_tree(home: Path) -> None:
    for p in [home, *home.rglob("*")]:
        _as_student(p)


@pytest.fixture
def site(tmp_path):
    """homes/eve (the student's, uid 1000) and a root-only place she must never reach."""
    homes, state, secret = tmp_path / "homes", tmp_path / "state", tmp_path / "root-only"
    homes.mkdir()
    (homes / MARK).write_text("made by swarmhub\n")
    secret.mkdir(mode=0o700)
    (secret / "shadow").write_text("root:$y$secret-hash:19000:0:99999:7:::\n")
    os.chmod(secret / "shadow", 0o600)
    eve = homes / "eve"
    (eve / "work").mkdir(parents=True)
    (eve / "notes.ipynb").write_text('{"cells": [], "who": "eve"}\n')
    (eve / "work" / "tool").write_bytes(b"#!/bin/sh\necho hi\n")
    os.chmod(eve / "work" / "tool", 0o755)  # noqa: S103
    _student_tree(eve)
    cfg = parse_config({"local": {"state_dir": str(state), "homes_dir": str(homes)}}, "t.yaml")
    os.chmod(tmp_path, 0o755)  # noqa: S103 (she may look, not enter root-only)
    return homes, eve, secret, cfg


def _archive(cfg, **kw):
    return archiving.archive(cfg, "local", course="intro", users="eve", **kw)


def _restore(cfg, **kw):
    return archiving.restore(cfg, "local", user="eve", course="intro", **kw)


def test_links_at_restores_temporary_names_write_nothing_outside_the_home(site):
    homes, eve, secret, cfg = site
    _archive(cfg)
    # She plants links at every name restore wrote through before, pointing
    # at a root-only folder: one to a new file, one to an existing root file.
    os.symlink(secret / "cron-job", eve / ".notes.ipynb.swarmhub-restore")
    (eve / "work").mkdir()
    _as_student(eve / "work")
    os.symlink(secret / "shadow", eve / "work" / ".tool.swarmhub-restore")
    shadow_before = (secret / "shadow").read_bytes()

    try:
        _restore(cfg)
    except SwarmhubError:
        pass  # refusing is fine; writing outside is not

    assert not (secret / "cron-job").exists()
    assert (secret / "shadow").read_bytes() == shadow_before
    assert (secret / "shadow").stat().st_uid == 0


def test_restored_files_are_the_students_and_never_setuid(site):
    homes, eve, secret, cfg = site
    os.chmod(eve / "work" / "tool", 0o6755)  # noqa: S103 (she may set these on her own file)
    _archive(cfg)
    _restore(cfg)
    for p in [eve, *eve.rglob("*")]:
        st = os.lstat(p)
        assert st.st_uid == STUDENT, f"{p} is owned by {st.st_uid}"
        assert not st.st_mode & (stat.S_ISUID | stat.S_ISGID), f"{p} keeps setuid/setgid"
    assert (eve / "work" / "tool").stat().st_mode & 0o777 == 0o755


def test_restore_into_a_home_that_is_gone_gives_it_to_the_student(site):
    homes, eve, secret, cfg = site
    _archive(cfg)
    (eve / NOTE).unlink()
    eve.rmdir()
    _restore(cfg)
    assert eve.stat().st_uid == STUDENT
    assert all(os.lstat(p).st_uid == STUDENT for p in eve.rglob("*"))


def test_a_folder_swapped_for_a_link_is_not_followed_by_restore(site):
    homes, eve, secret, cfg = site
    _archive(cfg)
    # work/ is now a link to the root-only folder: restore must not write there.
    os.symlink(secret, eve / "work")
    with pytest.raises(SwarmhubError, match="work"):
        _restore(cfg)
    assert sorted(p.name for p in secret.iterdir()) == ["shadow"]


def test_a_file_swapped_for_a_link_during_archive_never_brings_in_root_bytes(site, monkeypatch):
    """She wins the race: right after root has looked at notes.ipynb (a plain
    file), she swaps it for a link to a root-only file. What root then reads
    must not be the root-only file. (The swap is made at the moment root's
    stat returns, which is when the real race is won, one time in ~100.)"""
    homes, eve, secret, cfg = site
    (eve / "notes.ipynb").write_text("x" * 8)  # shorter than the secret
    swapped = []
    real_stat, real_lstat = os.stat, os.lstat

    def swap_after(result, path):
        if not swapped and os.fsdecode(path).endswith("notes.ipynb"):
            swapped.append(path)
            os.rename(eve / "notes.ipynb", eve / "keep")
            os.symlink(secret / "shadow", eve / "notes.ipynb")
        return result

    monkeypatch.setattr(os, "stat", lambda p, *a, **k: swap_after(real_stat(p, *a, **k), p))
    monkeypatch.setattr(os, "lstat", lambda p, *a, **k: swap_after(real_lstat(p, *a, **k), p))
    store = LocalStore(homes.parent / "store")
    try:
        _archive(cfg, keep_homes=True, store=store)
    except SwarmhubError:
        pass  # refusing is fine
    monkeypatch.undo()
    assert swapped, "the race was never run"
    secret_bytes = (secret / "shadow").read_bytes()[:8]
    for p in store.root.rglob("*.tar"):
        assert secret_bytes not in p.read_bytes(), f"{p} carries a root-only file"


def test_a_folder_swapped_after_archive_does_not_make_root_delete_outside(site):
    """Her work/tool has the size and time of a root file; once archived she
    swaps work/ for a link to that file's folder: removal must not follow it."""
    homes, eve, secret, cfg = site
    victim = secret / "tool"
    victim.write_bytes(b"#!/bin/sh\necho hi\n")  # same size as hers
    st = (eve / "work" / "tool").stat()
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))

    class Swapping(LocalStore):
        def put(self, key, source):
            super().put(key, source)
            if key.endswith(".manifest.json"):  # the last step before removal
                os.rename(eve / "work", eve / "work.old")
                os.symlink(secret, eve / "work")

    _archive(cfg, store=Swapping(homes.parent / "store"))
    assert victim.exists(), "root deleted a file outside the home"


def test_the_note_is_not_written_through_a_link(site):
    homes, eve, secret, cfg = site

    class Planting(LocalStore):
        def put(self, key, source):
            super().put(key, source)
            if key.endswith(".manifest.json"):
                os.symlink(secret / "note-target", eve / NOTE)

    _archive(cfg, keep_homes=True, store=Planting(homes.parent / "store"))
    assert not (secret / "note-target").exists()
    assert (eve / NOTE).is_file() and not (eve / NOTE).is_symlink()
    assert (eve / NOTE).stat().st_uid == STUDENT


def test_an_archive_entry_leaving_the_home_is_refused(site):
    """An archive (the store is writable by whoever runs archive) naming a path
    out of the home writes nothing anywhere."""
    import hashlib
    import io
    import json
    import tarfile

    homes, eve, secret, cfg = site
    store = LocalStore(homes.parent / "state" / "archive")
    tar_path = homes.parent / "evil.tar"
    data = b"* * * * * root sh -c 'id > /tmp/pwned'\n"
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("../root-only/cron-job")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    digest = hashlib.sha256(data).hexdigest()
    manifest = {
        "entries": [
            {"path": "../root-only/cron-job", "type": "file", "mode": 0o644, "mtime": 1,
             "size": len(data), "sha256": digest}
        ],
        "tar_size": tar_path.stat().st_size,
        "tar_sha256": hashlib.sha256(tar_path.read_bytes()).hexdigest(),
    }  # fmt: skip
    store.put("intro/eve/20260101T000000Z.tar", tar_path)
    (homes.parent / "m.json").write_text(json.dumps(manifest))
    store.put("intro/eve/20260101T000000Z.manifest.json", homes.parent / "m.json")
    with pytest.raises(SwarmhubError, match="leaves the home: refused"):
        _restore(cfg, store=store)
    assert not (secret / "cron-job").exists()
