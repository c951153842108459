"""Password guessers against the sign-in form: one client on one name, many
clients on one name, one client spraying names, and a crowd that would starve
the hub with scrypt. The student whose name is guessed still signs in from her
own address. Driven through the accounts authenticator as JupyterHub's login
handler calls it (get_authenticated_user with the request's address).
"""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace

import pytest
from tornado import web

from swarmhub import accounts
from swarmhub.hub import auth
from swarmhub.hub.throttle import Throttle


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.setattr(accounts, "SCRYPT_N", 2**10)
    accounts.dummy_hash.cache_clear()
    path = tmp_path / "accounts.json"
    made, _ = accounts.add(path, ["alice", "bob"])
    checks = []
    real = accounts.verify_password

    def counted(password, stored):
        checks.append(password)
        return real(password, stored)

    monkeypatch.setattr(accounts, "verify_password", counted)
    a = auth.AccountsAuthenticator(accounts_file=str(path))
    yield SimpleNamespace(auth=a, passwords=made, checks=checks)
    accounts.dummy_hash.cache_clear()


def _try(site, name: str, password: str, address: str):
    handler = SimpleNamespace(request=SimpleNamespace(remote_ip=address))
    data = {"username": name, "password": password}
    return asyncio.run(site.auth.get_authenticated_user(handler, data))


def _refused(site, name, password, address) -> str:
    with pytest.raises(web.HTTPError) as info:
        _try(site, name, password, address)
    assert info.value.status_code == 429
    return info.value.jupyterhub_message


def test_one_client_guessing_one_name_is_slowed_and_the_student_still_gets_in(site):
    for guess in range(5):
        assert _try(site, "alice", f"guess{guess}", "203.0.113.9") is None
    checked = len(site.checks)
    message = _refused(site, "alice", "guess5", "203.0.113.9")
    assert "try again in" in message and "\n" not in message
    assert len(site.checks) == checked, "a refused try still ran scrypt"
    # Even the right password waits from there: the guesser learns nothing.
    _refused(site, "alice", site.passwords["alice"], "203.0.113.9")
    # alice, from the lab, is not locked out.
    assert _try(site, "alice", site.passwords["alice"], "198.51.100.20")["name"] == "alice"


def test_many_clients_guessing_one_name_do_not_lock_her_out(site):
    for n in range(12):
        for guess in range(2):
            assert _try(site, "alice", f"g{guess}", f"203.0.113.{n}") is None
    # Over the name's limit: addresses that failed twice for it wait...
    _refused(site, "alice", "g3", "203.0.113.1")
    # ...one that never failed for it still signs in.
    assert _try(site, "alice", site.passwords["alice"], "198.51.100.20")["name"] == "alice"


def test_one_client_spraying_names_is_slowed():
    clock = [0.0]
    t = Throttle(clock=lambda: clock[0])
    for n in range(100):
        assert t.wait(f"user{n}", "203.0.113.9") == 0
        t.failed(f"user{n}", "203.0.113.9")
    assert t.wait("user100", "203.0.113.9") == 30
    assert t.wait("user100", "198.51.100.20") == 0  # another address is not
    clock[0] += 31
    assert t.wait("user100", "203.0.113.9") == 0
    t.failed("user100", "203.0.113.9")
    assert t.wait("user101", "203.0.113.9") == 60  # doubling
    clock[0] += 2000  # the window passes: everything is forgotten
    assert t.wait("user101", "203.0.113.9") == 0
    t.prune()
    assert t._fails == {}, "failures older than the window are kept"


def test_a_crowd_of_sign_ins_runs_at_most_two_password_checks_at_once(site, monkeypatch):
    running, most = [0], [0]
    lock = threading.Lock()

    def slow(password, stored):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return False

    monkeypatch.setattr(accounts, "verify_password", slow)

    async def crowd():
        handler = SimpleNamespace(request=SimpleNamespace(remote_ip="203.0.113.9"))
        tries = [
            site.auth.get_authenticated_user(handler, {"username": f"u{n}", "password": "x"})
            for n in range(8)
        ]
        return await asyncio.gather(*tries)

    assert asyncio.run(crowd()) == [None] * 8
    assert most[0] == 2
