"""A curious TA or a hostile student against the hub's mount sources.

Staff have their course's exchange read-write; a student has their own home.
Either may leave a link where the hub expects a folder. These tests play that
on a real filesystem and drive the spawner's own create_object up to the point
where it would hand the mounts to the swarm (dockerspawner's create_object,
replaced by a recorder): the spawn must be refused with one line, and no
service made.
"""

from __future__ import annotations

import asyncio
import logging
import os
from types import SimpleNamespace

import pytest
from dockerspawner import SwarmSpawner
from tornado import web

from swarmhub.config import parse_config
from swarmhub.hub import courses, profiles
from swarmhub.hub.spawner import SwarmhubSpawner

HOST = "/var/lib/swarmhub/homes"  # the homes as the nodes see them
RAW = {
    "servers": {"profiles": [{"name": "general", "display_name": "General"}]},
    "courses": [
        {
            "name": "phys-101",
            "roster": ["bob", "ann"],
            "staff": ["carol"],
            "start": "2026-09-01",
            "end": "2026-12-20",
            "shared_folder": True,
            "nbgrader": True,
        }
    ],
}
CFG = parse_config(RAW, "t")


class _Spawner(SwarmhubSpawner):
    client = None


@pytest.fixture
def made(monkeypatch):
    """What would reach the swarm: the volume binds of each service created."""
    calls = []

    async def record(self):
        calls.append(dict(self.volume_binds))
        return {"ID": "x"}

    monkeypatch.setattr(SwarmSpawner, "create_object", record)
    monkeypatch.setattr(os, "fchown", lambda *a: None)
    return calls


def _spawner(homes, name: str, *groups: str) -> SwarmhubSpawner:
    from datetime import UTC, datetime

    user = SimpleNamespace(name=name, groups=[SimpleNamespace(name=g) for g in groups])
    sp = _Spawner(user=user)
    sp.log = logging.getLogger("test")
    sp.pack = False
    sp.homes_hub_dir = str(homes)
    sp.homes_host_dir = HOST
    sp.courses_host_dir = f"{HOST}/.courses"
    sp.notebook_dir = "/home/jovyan"
    sp.volumes = {f"{HOST}/{{raw_username}}": "/home/jovyan"}
    now = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
    offer = profiles.Offer(
        profiles.choices(CFG.servers, "nb:1"),
        profiles.default_choice(CFG.servers, "nb:1"),
        CFG.courses,
        clock=lambda: now,
    )
    offer.apply(sp, {})
    return sp


def _refused(sp) -> str:
    with pytest.raises(web.HTTPError) as info:
        asyncio.run(sp.create_object())
    message = info.value.jupyterhub_message
    assert "\n" not in message
    return message


def test_a_staff_made_link_in_place_of_a_student_s_inbox_is_refused(tmp_path, made):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "secret.txt").write_text("the victim's work")
    # bob's first spawn makes his inbox; then the TA, who has the exchange
    # read-write, replaces it with a link to another person's home.
    asyncio.run(_spawner(tmp_path, "bob", "course-phys-101").create_object())
    assert len(made) == 1
    inbox = tmp_path / ".courses" / "phys-101" / "exchange" / "inbound" / "bob"
    inbox.rmdir()
    inbox.symlink_to("../../../../victim")
    assert (inbox / "secret.txt").exists()  # the engine would follow it the same way

    message = _refused(_spawner(tmp_path, "bob", "course-phys-101"))
    assert "exchange/inbound/bob cannot be made or used (it is a link)" in message
    assert len(made) == 1, "a service was made with the link as a mount source"


def test_a_link_in_place_of_the_released_assignments_is_refused(tmp_path, made):
    (tmp_path / "victim").mkdir()
    asyncio.run(_spawner(tmp_path, "bob", "course-phys-101").create_object())
    exchange = tmp_path / ".courses" / "phys-101" / "exchange"
    (exchange / "outbound").rmdir()
    (exchange / "outbound").symlink_to("../../../victim")
    message = _refused(_spawner(tmp_path, "bob", "course-phys-101"))
    assert "exchange/outbound cannot be made or used (it is a link)" in message
    assert len(made) == 1


def test_a_link_in_a_student_s_home_where_a_mount_point_goes_is_not_followed(tmp_path, made):
    (tmp_path / "victim").mkdir()
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "shared").symlink_to("../victim")
    message = _refused(_spawner(tmp_path, "bob", "course-phys-101"))
    assert "bob/shared cannot be made or used (it is a link)" in message
    assert not (tmp_path / "victim" / "phys-101").exists(), "the hub made a folder through it"
    assert made == []


def test_a_home_that_is_a_link_is_refused(tmp_path, made):
    (tmp_path / "victim").mkdir()
    (tmp_path / "bob").symlink_to("victim")
    message = _refused(_spawner(tmp_path, "bob"))
    assert "home folder bob cannot be made or used (it is a link)" in message
    assert made == []


def test_staff_cannot_rename_a_student_s_mount_source_or_its_parent():
    """The window between the check and the engine's mount: staff get inbound
    read-only and outbound as mounts of their own (a mount point cannot be
    renamed from inside the container), so no staff-writable name leads to a
    student's mount source."""
    m = courses.membership(CFG.courses, {"course-phys-101-staff"}, _term())
    staff = courses.mounts(f"{HOST}/.courses", "/home/jovyan", "carol", m)
    base = f"{HOST}/.courses/phys-101/exchange"
    assert staff[f"{base}/inbound"] == {
        "bind": "/srv/nbgrader/exchange/phys-101/inbound",
        "mode": "ro",
    }
    assert staff[f"{base}/outbound"]["bind"] == "/srv/nbgrader/exchange/phys-101/outbound"
    student = courses.mounts(
        f"{HOST}/.courses",
        "/home/jovyan",
        "bob",
        courses.membership(CFG.courses, {"course-phys-101"}, _term()),
    )
    writable = [src for src, b in staff.items() if b["mode"] == "rw"]
    for source in student:
        # No student source lies strictly below a staff read-write source
        # unless a staff mount pins the step in between.
        for rw in writable:
            if source.startswith(rw + "/"):
                step = rw + "/" + source[len(rw) + 1 :].split("/")[0]
                assert step in staff, f"{source}: staff may rename {step}"


def test_a_normal_spawn_still_makes_every_folder(tmp_path, made):
    asyncio.run(_spawner(tmp_path, "carol", "course-phys-101-staff").create_object())
    asyncio.run(_spawner(tmp_path, "bob", "course-phys-101").create_object())
    area = tmp_path / ".courses" / "phys-101"
    assert (area / "exchange" / "inbound" / "bob").is_dir()
    assert (tmp_path / "bob" / "shared" / "phys-101").is_dir()
    assert oct((tmp_path / "bob").stat().st_mode & 0o777) == "0o750"
    assert len(made) == 2


def _term():
    from datetime import UTC, datetime

    return datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
