"""A course's staff against users who are not the course's students.

An admin, or the staff member of another course, put on a roster (by mistake,
or a TA who also takes a class) must never be open to that course's staff.
Shown with JupyterHub's own roles and scope check on a real hub database: the
groups are the ones our authenticator hands JupyterHub at sign-in.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from jupyterhub import orm, roles, scopes
from traitlets.config import Configurable

from swarmhub.config import parse_config
from swarmhub.hub import auth, courses

RAW = {
    "hub": {"auth": {"admin_users": ["prof"]}},
    "courses": [
        {
            "name": "phys-101",
            "roster": ["bob", "dan"],
            "staff": ["carol"],
            "start": "2026-09-01",
            "end": "2099-12-20",
        },
        {
            "name": "chem-2",
            "roster": ["erin"],
            "staff": ["dan"],
            "start": "2026-09-01",
            "end": "2099-12-20",
        },
    ],
}
CFG = parse_config(RAW, "t")
# validate refuses an admin on a roster, but a GitHub team can still bring one
# into a course at sign-in: the hub must hold on its own, so put prof there
# past the config's check.
CFG.courses[0].roster.insert(1, "prof")


class _App(Configurable):
    """Stands for the JupyterHub app: what the authenticator reads of it (`db`)."""


VERBS = ("admin:servers", "access:servers", "read:users", "start:servers", "delete:servers")


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A hub database with the staff roles loaded, and our authenticator on it."""
    from swarmhub import accounts

    monkeypatch.setattr(accounts, "SCRYPT_N", 2**10)
    accounts.dummy_hash.cache_clear()
    db = orm.new_session_factory("sqlite:///:memory:")()
    for role in courses.roles(CFG.courses, courses_now()):
        roles.create_role(db, {k: v for k, v in role.items() if k != "groups"})
        for group in role["groups"]:
            found = orm.Group.find(db, group) or orm.Group(name=group)
            db.add(found)
            db.commit()
            roles.grant_role(db, found, role["name"])
    path = tmp_path / "accounts.json"
    made, _ = accounts.add(path, ["bob", "prof", "dan", "carol", "erin"])
    a = auth.AccountsAuthenticator(
        accounts_file=str(path),
        applied_file=str(tmp_path / "applied.json"),
        admin_users={"prof"},
        courses=list(CFG.courses),
    )
    a.manage_groups = True
    a.parent = _App()
    a.parent.db = db
    yield SimpleNamespace(db=db, auth=a, passwords=made)
    accounts.dummy_hash.cache_clear()


def courses_now():
    from swarmhub.config.courses import utcnow

    return utcnow()


def _sign_in(hub, name: str) -> orm.User:
    """Sign in as JupyterHub does: the authenticator's model, then its groups synced."""
    model = asyncio.run(
        hub.auth.get_authenticated_user(None, {"username": name, "password": hub.passwords[name]})
    )
    user = orm.User.find(hub.db, name) or orm.User(name=name)
    hub.db.add(user)
    user.admin = bool(model.get("admin"))
    user.groups = [orm.Group.find(hub.db, g) or orm.Group(name=g) for g in model.get("groups", [])]
    hub.db.commit()
    return user


def _can(hub, actor: orm.User, verb: str, target: orm.User) -> bool:
    """JupyterHub's own answer: the actor's scopes, filtered on the target."""
    parsed = scopes.parse_scopes(scopes.get_scopes_for(actor))
    if verb not in parsed:
        return False
    return bool(scopes.check_scope_filter(parsed[verb], target, "user"))


def test_staff_reach_their_students_but_never_an_admin_on_the_roster(hub):
    people = {name: _sign_in(hub, name) for name in ("bob", "prof", "dan", "carol", "erin")}
    carol = people["carol"]
    assert all(_can(hub, carol, v, people["bob"]) for v in VERBS)
    for verb in VERBS:
        assert not _can(hub, carol, verb, people["prof"]), f"staff may {verb} an admin"
        assert not _can(hub, carol, verb, people["dan"]), f"staff may {verb} another's staff"
    # dan keeps his own staff powers over chem-2's students.
    assert _can(hub, people["dan"], "admin:servers", people["erin"])


def test_an_admin_left_in_a_student_group_is_taken_out_at_the_next_sign_in(hub):
    # An older hub (or the admin page) had put the admin in the student group.
    prof = orm.User(name="prof", admin=True)
    hub.db.add(prof)
    prof.groups = [orm.Group.find(hub.db, "course-phys-101") or orm.Group(name="course-phys-101")]
    hub.db.commit()
    carol = _sign_in(hub, "carol")  # staff sign in; the admin does not
    assert not _can(hub, carol, "admin:servers", prof)
    assert [g.name for g in prof.groups] == []
