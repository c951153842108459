"""Courses in the hub: staff roles, the offer per group, folders, exams, end dates,
and the groups the authenticators hand JupyterHub (no hub, no Docker)."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from tornado import web
from traitlets.config import Config as TraitletsConfig

from swarmhub import accounts
from swarmhub.config import parse_config
from swarmhub.hub import auth, courses, hubconfig, profiles
from swarmhub.hub.settings import Settings
from swarmhub.hub.spawner import SwarmhubSpawner
from tests.helpers import runtime

GiB = 1024**3
TERM = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)  # a Tuesday in term
EXAM = datetime(2026, 10, 6, 14, 30, tzinfo=UTC)  # within phys-101's exam window
AFTER = datetime(2026, 12, 21, 9, 0, tzinfo=UTC)  # the day after phys-101 ends

RAW = {
    "servers": {
        "mem_limit": "2G",
        "mem_reservation": "1G",
        "profiles": [
            {"name": "general", "display_name": "General"},
            {"name": "phys", "display_name": "Physics", "mem_limit": "4G"},
            {"name": "chem", "display_name": "Chemistry", "cpu_limit": 2},
        ],
    },
    "courses": [
        {
            "name": "phys-101",
            "roster": ["alice", "bob"],
            "staff": ["carol"],
            "profiles": ["phys"],
            "start": "2026-09-01",
            "end": "2026-12-20",
            "shared_folder": True,
            "nbgrader": True,
            "windows": [
                {
                    "days": ["tue"],
                    "start": "14:00",
                    "end": "16:00",
                    "min_nodes": 4,
                    "kind": "exam",
                },  # fmt: skip
                {"days": ["thu"], "start": "10:00", "end": "12:00", "min_nodes": 2},
            ],
        },
        {
            "name": "chem-2",
            "roster": ["dave", "alice"],
            "staff": ["erin"],
            "profiles": ["chem"],
            "start": "2026-09-01",
            "end": "2027-02-01",
            "shared_folder": True,
        },
    ],
}
CFG = parse_config(RAW, "t")
PHYS, CHEM = CFG.courses


def _m(*groups, now=TERM):
    return courses.membership(CFG.courses, set(groups), now)


# --- roles -------------------------------------------------------------------


def test_staff_get_a_role_limited_to_their_course_and_never_admin():
    roles = {r["name"]: r for r in courses.roles(CFG.courses, TERM)}
    phys = roles["course-phys-101-staff"]
    assert phys["groups"] == ["course-phys-101-staff"]
    assert "admin-ui" in phys["scopes"]
    for verb in ("list:users", "read:users", "admin:servers", "access:servers"):
        assert f"{verb}!group=course-phys-101" in phys["scopes"]
    # Every scope but the admin page's is filtered to the students' group.
    assert all(s == "admin-ui" or s.endswith("!group=course-phys-101") for s in phys["scopes"])
    assert not {"admin:users", "admin:servers", "access:servers", "admin"} & set(phys["scopes"])
    assert all("admin" not in r.get("users", []) for r in roles.values())


def test_the_staff_scopes_are_real_jupyterhub_scopes_and_expand_within_the_group():
    from jupyterhub import scopes

    own = courses.staff_scopes(PHYS)
    scopes._check_scopes_exist(own)
    expanded = scopes.expand_scopes(own)
    assert "start:servers!group=course-phys-101" in expanded
    assert all(s == "admin-ui" or s.endswith("!group=course-phys-101") for s in expanded)


def test_course_folders_sit_beside_the_homes_where_no_user_can_be_named():
    from swarmhub.config.hub import USERNAME
    from swarmhub.local.paths import paths

    p = paths(CFG)
    assert p.courses.parent == p.homes and not USERNAME.match(p.courses.name)


def test_an_ended_course_loads_no_role_and_a_coming_one_does():
    assert [r["name"] for r in courses.roles(CFG.courses, AFTER)] == ["course-chem-2-staff"]
    before = datetime(2026, 8, 1, tzinfo=UTC)
    assert len(courses.roles(CFG.courses, before)) == 2  # inert: no members until the start
    assert courses.membership(CFG.courses, {"course-phys-101-staff"}, before).staff == ()


# --- the offer -----------------------------------------------------------------


CHOICES = profiles.choices(CFG.servers, "nb:1")
FALLBACK = profiles.default_choice(CFG.servers, "nb:1")


def _user(name, *groups):
    return SimpleNamespace(name=name, groups=[SimpleNamespace(name=g) for g in groups])


def _offer(now):
    return profiles.Offer(CHOICES, FALLBACK, CFG.courses, clock=lambda: now)


def _names(offer, user, now=TERM):
    return [c.name for c in offer.for_membership(courses.membership(CFG.courses, {
        g.name for g in user.groups}, now))]  # fmt: skip


def test_a_student_sees_their_course_profiles_and_not_another_course_s():
    offer = _offer(TERM)
    assert _names(offer, _user("bob", "course-phys-101")) == ["general", "phys"]
    assert _names(offer, _user("dave", "course-chem-2")) == ["general", "chem"]
    assert _names(offer, _user("alice", "course-phys-101", "course-chem-2")) == [
        "general",
        "phys",
        "chem",
    ]
    assert _names(offer, _user("carol", "course-phys-101-staff")) == ["general", "phys"]
    # In no course: the default offer, never a course's profile.
    assert _names(offer, _user("zoe")) == ["general"]
    form = offer.form(SimpleNamespace(user=_user("dave", "course-chem-2")))
    assert 'value="chem"' in form and 'value="phys"' not in form


def test_a_course_past_its_end_date_offers_nothing():
    offer = _offer(AFTER)
    assert _names(offer, _user("bob", "course-phys-101"), AFTER) == ["general"]


def test_without_a_general_profile_a_user_in_no_course_gets_the_server_defaults():
    raw = {**RAW, "servers": {**RAW["servers"], "profiles": RAW["servers"]["profiles"][1:]}}
    cfg = parse_config(raw, "t")
    offer = profiles.Offer(
        profiles.choices(cfg.servers, "nb:1"), profiles.default_choice(cfg.servers, "nb:1"),
        cfg.courses, clock=lambda: TERM,
    )  # fmt: skip
    m = courses.membership(cfg.courses, set(), TERM)
    (only,) = offer.for_membership(m)
    assert only.name == "default" and only.mem_limit == 2 * GiB


class _Spawner(SwarmhubSpawner):
    client = None


def _spawner(name, *groups):
    sp = _Spawner(user=_user(name, *groups))
    sp.courses_host_dir = "/var/lib/swarmhub/homes/.courses"
    sp.notebook_dir = "/home/jovyan"
    sp.log = logging.getLogger("test")
    return sp


def test_asking_for_another_course_s_profile_is_refused_with_400():
    sp = _spawner("dave", "course-chem-2")
    with pytest.raises(web.HTTPError) as info:
        _offer(TERM).apply(sp, {"profile": "phys"})
    assert info.value.status_code == 400 and "general, chem" in info.value.jupyterhub_message


# --- mounts and the exam guarantee -------------------------------------------------


def test_a_student_reads_shared_and_submits_only_to_their_own_inbox():
    sp = _spawner("bob", "course-phys-101")
    _offer(TERM).apply(sp, {"profile": "phys"})
    root = "/var/lib/swarmhub/homes/.courses/phys-101"
    assert sp.course == "phys-101"
    assert sp.course_mounts == {
        f"{root}/shared": {"bind": "/home/jovyan/shared/phys-101", "mode": "ro"},
        f"{root}/exchange/outbound": {
            "bind": "/srv/nbgrader/exchange/phys-101/outbound",
            "mode": "ro",
        },
        f"{root}/exchange/inbound/bob": {
            "bind": "/srv/nbgrader/exchange/phys-101/inbound",
            "mode": "rw",
        },
    }
    # Nobody else's inbox, and not the exchange as a whole.
    assert not any("inbound/alice" in k or k.endswith("/exchange") for k in sp.course_mounts)
    # The spawner hands them to Swarm as they are: read-only stays read-only.
    sp.volumes = {"/var/lib/swarmhub/homes/bob": "/home/jovyan"}
    binds = sp.volume_binds
    assert binds[f"{root}/shared"]["mode"] == "ro"
    assert binds["/var/lib/swarmhub/homes/bob"] == {"bind": "/home/jovyan", "mode": "rw"}
    mounts = {m["Target"]: m["ReadOnly"] for m in sp.mounts}
    assert mounts["/home/jovyan/shared/phys-101"] is True
    assert mounts["/srv/nbgrader/exchange/phys-101/inbound"] is False


def test_staff_write_shared_and_the_whole_exchange():
    sp = _spawner("carol", "course-phys-101-staff")
    _offer(TERM).apply(sp, {})
    root = "/var/lib/swarmhub/homes/.courses/phys-101"
    assert sp.course_mounts == {
        f"{root}/shared": {"bind": "/home/jovyan/shared/phys-101", "mode": "rw"},
        f"{root}/exchange": {"bind": "/srv/nbgrader/exchange/phys-101", "mode": "rw"},
        # Pinned by mounts of their own (tests/security/test_mount_sources.py).
        f"{root}/exchange/outbound": {
            "bind": "/srv/nbgrader/exchange/phys-101/outbound",
            "mode": "rw",
        },
        f"{root}/exchange/inbound": {
            "bind": "/srv/nbgrader/exchange/phys-101/inbound",
            "mode": "ro",
        },
    }


def test_a_user_in_two_courses_gets_both_shared_folders_and_no_one_else_any():
    sp = _spawner("alice", "course-phys-101", "course-chem-2")
    _offer(TERM).apply(sp, {})
    shared = {v["bind"]: v["mode"] for k, v in sp.course_mounts.items() if "shared" in k}
    assert shared == {"/home/jovyan/shared/phys-101": "ro", "/home/jovyan/shared/chem-2": "ro"}
    zoe = _spawner("zoe")
    _offer(TERM).apply(zoe, {})
    assert zoe.course_mounts == {} and zoe.course == ""


def test_during_an_exam_a_student_s_server_reserves_its_limit():
    sp = _spawner("bob", "course-phys-101")
    _offer(TERM).apply(sp, {"profile": "phys"})
    assert (sp.mem_guarantee, sp.cpu_guarantee) == (1 * GiB, 0.25)
    _offer(EXAM).apply(sp, {"profile": "phys"})
    assert (sp.mem_guarantee, sp.cpu_guarantee) == (4 * GiB, 1.0)
    # Not for a student of another course, nor for staff.
    dave = _spawner("dave", "course-chem-2")
    _offer(EXAM).apply(dave, {})
    assert dave.mem_guarantee == 1 * GiB
    carol = _spawner("carol", "course-phys-101-staff")
    _offer(EXAM).apply(carol, {})
    assert carol.mem_guarantee == 1 * GiB


def test_after_the_end_date_no_folder_is_mounted():
    sp = _spawner("bob", "course-phys-101")
    _offer(AFTER).apply(sp, {})
    assert sp.course_mounts == {}


def test_the_spawner_makes_the_folders_owned_by_the_notebook_user(tmp_path, monkeypatch):
    chowned = []

    def fchown(fd, uid, gid):
        chowned.append((os.readlink(f"/proc/self/fd/{fd}"), uid))

    monkeypatch.setattr(os, "fchown", fchown)
    sp = _spawner("bob", "course-phys-101")
    sp.homes_hub_dir = str(tmp_path)
    _offer(TERM).apply(sp, {})
    sp._ensure_course_dirs()
    area = tmp_path / ".courses" / "phys-101"
    assert (area / "shared").is_dir() and (area / "exchange" / "inbound" / "bob").is_dir()
    assert (tmp_path / "bob" / "shared" / "phys-101").is_dir()  # the mount point in the home
    assert not (area / "exchange" / "inbound" / "alice").exists()
    assert {uid for _, uid in chowned} == {1000}
    assert str(area / "exchange" / "inbound" / "bob") in {p for p, _ in chowned}


# --- the hub config ------------------------------------------------------------------


def _configure(tmp_path, monkeypatch, raw) -> TraitletsConfig:
    monkeypatch.setenv("SWARMHUB_SECRETS_DIR", str(tmp_path))
    monkeypatch.setattr("swarmhub.hub.hubconfig.courses_now", lambda: TERM)
    c = TraitletsConfig()
    hubconfig.configure(c, Settings(config=parse_config(raw, "t"), runtime=runtime()))
    return c


def test_the_hub_config_wires_courses(tmp_path, monkeypatch):
    c = _configure(tmp_path, monkeypatch, RAW)
    assert c.Authenticator.manage_groups is True and c.Authenticator.refresh_pre_spawn is True
    assert [x.name for x in c.Authenticator.courses] == ["phys-101", "chem-2"]
    names = [r["name"] for r in c.JupyterHub.load_roles]
    assert "course-phys-101-staff" in names and "swarmhub-cli" in names
    assert c.SwarmhubSpawner.courses_host_dir == "/var/lib/swarmhub/homes/.courses"
    assert callable(c.SwarmhubSpawner.options_form)
    assert "load_groups" not in c.JupyterHub  # groups belong to the authenticator


def test_without_courses_nothing_changes(tmp_path, monkeypatch):
    c = _configure(tmp_path, monkeypatch, {})
    assert "manage_groups" not in c.Authenticator
    assert not any(r["name"].startswith("course-") for r in c.JupyterHub.load_roles)


# --- the authenticators' groups --------------------------------------------------------


@pytest.fixture
def fast_scrypt(monkeypatch):
    monkeypatch.setattr(accounts, "SCRYPT_N", 2**10)
    accounts.dummy_hash.cache_clear()
    yield accounts
    accounts.dummy_hash.cache_clear()


def test_local_accounts_get_the_roster_s_groups_at_sign_in_and_refresh(
    tmp_path, fast_scrypt, monkeypatch
):
    monkeypatch.setattr("swarmhub.config.courses.utcnow", lambda: TERM)
    path = tmp_path / "accounts.json"
    made, _ = fast_scrypt.add(path, ["alice", "carol", "zoe"])
    a = auth.AccountsAuthenticator(
        accounts_file=str(path), manage_groups=True, courses=list(CFG.courses)
    )

    def sign_in(name):
        data = {"username": name, "password": made[name]}
        return asyncio.run(a.get_authenticated_user(None, data))

    assert sign_in("alice")["groups"] == ["course-chem-2", "course-phys-101"]
    assert sign_in("carol")["groups"] == ["course-phys-101-staff"]
    assert sign_in("zoe")["groups"] == []
    user = SimpleNamespace(name="carol")
    assert asyncio.run(a.refresh_user(user))["groups"] == ["course-phys-101-staff"]
    # After the end date the refresh takes the staff group away: the role is inert.
    monkeypatch.setattr("swarmhub.config.courses.utcnow", lambda: AFTER)
    assert asyncio.run(a.refresh_user(user))["groups"] == []


def test_github_teams_become_course_groups(monkeypatch):
    monkeypatch.setattr("swarmhub.config.courses.utcnow", lambda: TERM)
    gh = {"kind": "github", "admin_users": ["prof"],
          "github": {"client_id": "abc", "allowed_users": ["prof"]}}  # fmt: skip
    raw = {**RAW, "hub": {"auth": gh}}
    raw["courses"] = [
        {**RAW["courses"][0], "roster": ["uni:phys-students"], "staff": ["uni:phys-tas"]}
    ]
    cfg = parse_config(raw, "t")
    cls = auth._github_class()
    a = cls(manage_groups=True, courses=list(cfg.courses))

    def state(login, *teams):
        return {
            "github_user": {"login": login},
            "teams": [{"slug": t, "organization": {"login": "Uni"}} for t in teams],
        }

    assert a.get_user_groups(state("Bob", "phys-students")) == {"course-phys-101"}
    assert a.get_user_groups(state("ta", "phys-tas", "other")) == {"course-phys-101-staff"}
    assert a.get_user_groups(state("mallory", "other")) == set()


def test_github_with_course_teams_reads_teams(tmp_path, monkeypatch):
    (tmp_path / "swarmhub-github-client-secret").write_text("s\n")
    gh = {"kind": "github", "admin_users": ["prof"],
          "github": {"client_id": "abc", "allowed_users": ["prof"]}}  # fmt: skip
    raw = {**RAW, "hub": {"auth": gh}}
    raw["courses"] = [{**RAW["courses"][0], "roster": ["uni:phys-students"]}]
    c = _configure(tmp_path, monkeypatch, raw)
    g = c.GitHubOAuthenticator
    assert g.populate_teams_in_auth_state is True and "read:org" in g.scope
    assert c.JupyterHub.authenticator_class.__name__ == "CourseGitHubOAuthenticator"


def test_a_github_user_loses_an_ended_course_s_groups_at_the_refresh(monkeypatch):
    cls = auth._github_class()
    a = cls(manage_groups=True, courses=list(CFG.courses))
    user = _user("carol", "course-phys-101-staff", "course-chem-2", "other")
    monkeypatch.setattr("swarmhub.config.courses.utcnow", lambda: TERM)
    # Staff of phys-101 on chem-2's roster: never in a student group, where
    # chem-2's staff could reach them (tests/security/test_staff_reach.py).
    assert asyncio.run(a.refresh_user(user)) == {
        "name": "carol",
        "groups": ["course-phys-101-staff", "other"],
    }
    monkeypatch.setattr("swarmhub.config.courses.utcnow", lambda: AFTER)
    assert asyncio.run(a.refresh_user(user)) == {
        "name": "carol",
        "groups": ["course-chem-2", "other"],
    }


def test_a_file_where_a_mount_point_goes_is_a_clear_refusal(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fchown", lambda *a: None)
    sp = _spawner("bob", "course-phys-101")
    sp.homes_hub_dir = str(tmp_path)
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "shared").write_text("my notes")
    _offer(TERM).apply(sp, {})
    with pytest.raises(web.HTTPError) as info:
        sp._ensure_course_dirs()
    assert "course folder bob/shared cannot be made" in info.value.jupyterhub_message
