"""A student's password leaked: the operator resets it (`users add --reset`) or
removes the account. Whoever holds the old browser session or a token must lose
it at once, and still after the hub restarts (a new authenticator, the same
database): the way JupyterHub itself looks a cookie and a token up.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from jupyterhub import orm, roles
from traitlets.config import Configurable

from swarmhub import accounts
from swarmhub.hub import auth, sessions


class _App(Configurable):
    """Stands for the JupyterHub app: what the authenticator reads of it."""


@pytest.fixture
def hub(tmp_path, monkeypatch):
    monkeypatch.setattr(accounts, "SCRYPT_N", 2**10)
    accounts.dummy_hash.cache_clear()
    app = _App()
    app.db = orm.new_session_factory(f"sqlite:///{tmp_path}/jupyterhub.sqlite")()
    app.path = tmp_path / "accounts.json"
    app.made, _ = accounts.add(app.path, ["alice", "bob"])
    app.db.add(orm.OAuthClient(identifier="jupyterhub"))  # what the hub makes at start
    for role in roles.get_default_roles():
        roles.create_role(app.db, role)
    for name in ("alice", "bob"):
        user = orm.User(name=name)
        app.db.add(user)
        app.db.commit()
        roles.assign_default_roles(app.db, user)
    app.db.commit()
    yield app
    accounts.dummy_hash.cache_clear()


def _started(app) -> auth.AccountsAuthenticator:
    """A hub (re)start: a new authenticator, add_user for every user in the database."""
    a = auth.AccountsAuthenticator(
        accounts_file=str(app.path), applied_file=str(app.path.with_name("applied.json"))
    )
    a.parent = app

    async def start():
        for user in app.db.query(orm.User):
            added = a.add_user(user)  # as JupyterHub's init_users: maybe a coroutine
            if added is not None:
                await added
        a._watcher.cancel()

    asyncio.run(start())
    return a


def _session(app, name: str) -> tuple[str, str]:
    """What an attacker holding a signed-in browser has: the cookie id and a token."""
    user = orm.User.find(app.db, name)
    token = user.new_api_token(
        note="stolen", scopes=["self"], expires_in=int(timedelta(days=14).total_seconds())
    )
    app.db.commit()
    return user.cookie_id, token


def _cookie_works(app, cookie_id: str) -> bool:
    # JupyterHub's BaseHandler._user_for_cookie: the user whose cookie_id it is.
    return app.db.query(orm.User).filter(orm.User.cookie_id == cookie_id).first() is not None


def _token_works(app, token: str) -> bool:
    return orm.APIToken.find(app.db, token) is not None


def test_a_reset_made_while_the_hub_is_down_ends_old_sessions_at_its_start(hub):
    _started(hub)
    cookie, token = _session(hub, "alice")
    other_cookie, other_token = _session(hub, "bob")
    accounts.add(hub.path, ["alice"], reset=True)  # the hub is down, or about to restart
    _started(hub)
    assert not _cookie_works(hub, cookie), "the old browser session still signs in"
    assert not _token_works(hub, token), "the old token still works"
    assert _cookie_works(hub, other_cookie) and _token_works(hub, other_token)


def test_a_removed_account_ends_at_once_on_the_running_hub(hub):
    a = _started(hub)
    cookie, token = _session(hub, "bob")
    accounts.remove(hub.path, ["bob"])
    assert a.reconcile() == {"bob"}  # the watch's look, every few seconds
    assert not _cookie_works(hub, cookie) and not _token_works(hub, token)
    assert a.reconcile() == set()  # once
    # And across a restart: nothing comes back, nothing is ended twice.
    _started(hub)
    assert not _token_works(hub, token)


def test_the_new_password_s_session_survives(hub):
    a = _started(hub)
    fresh, _ = accounts.add(hub.path, ["alice"], reset=True)
    model = asyncio.run(
        a.get_authenticated_user(None, {"username": "alice", "password": fresh["alice"]})
    )
    assert model["name"] == "alice"
    cookie, token = _session(hub, "alice")
    a.reconcile()
    _started(hub)
    assert _cookie_works(hub, cookie) and _token_works(hub, token)


def test_the_decision_ends_only_changed_or_removed_users():
    ended, remember = sessions.decide({"a": "1", "b": "2"}, {"a": "1", "b": "0", "c": "3"}, set())
    assert ended == {"b", "c"} and remember == {"a": "1", "b": "2"}
    # The first start with this code: users without an account end too.
    ended, _ = sessions.decide({"a": "1"}, None, {"a", "ghost"})
    assert ended == {"ghost"}
