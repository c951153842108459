"""One identity per student on the local default, and a purge that cannot hurt the machine.

Against the deployed local stack (tests/integration/conftest.py), which signs
in with per-user accounts (`hub.auth.kind: accounts`, the default). Each
assertion uses accounts made in the test itself, so no cached credential hides
a broken path.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import requests
import yaml

from swarmhub.config import load_config
from tests.integration.stack import Stack, cli

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def accounts(stack: Stack) -> dict[str, str]:
    if load_config(stack.config).hub.auth.kind != "accounts":
        pytest.skip("the stack signs in with another authenticator")
    proc = cli("users", "add", "acct-alice", "acct-bob", "--reset", config=stack.config)
    rows = list(csv.reader(io.StringIO(proc.stdout)))
    assert rows[0] == ["username", "password"]
    made = dict(rows[1:])
    assert set(made) == {"acct-alice", "acct-bob"}
    yield made
    cli("users", "remove", "acct-alice", "acct-bob", config=stack.config, check=False)


def _login(stack: Stack, user: str, password: str) -> requests.Session:
    """The login form as a browser posts it; the session keeps whatever cookie it got."""
    s = requests.Session()
    s.get(f"{stack.url}/hub/login", timeout=30)
    s.post(
        f"{stack.url}/hub/login",
        data={"username": user, "password": password, "_xsrf": s.cookies.get("_xsrf")},
        timeout=30,
        allow_redirects=False,
    )
    return s


def _who(session: requests.Session, stack: Stack) -> str | None:
    r = session.get(f"{stack.url}/hub/api/user", timeout=30)
    return r.json()["name"] if r.status_code == 200 else None


def test_a_student_signs_in_only_as_themselves(stack: Stack, accounts):
    alice, bob = accounts["acct-alice"], accounts["acct-bob"]
    assert _who(_login(stack, "acct-alice", alice), stack) == "acct-alice"
    assert _who(_login(stack, "acct-bob", bob), stack) == "acct-bob"
    # Alice's password does not open Bob's name, nor a name nobody has.
    assert _who(_login(stack, "acct-bob", alice), stack) is None
    assert _who(_login(stack, "acct-nobody", alice), stack) is None
    # The class password of the old default opens nothing either.
    class_password = stack.state_dir / "secrets" / "swarmhub-user-password"
    if class_password.exists():
        assert _who(_login(stack, "acct-bob", class_password.read_text().strip()), stack) is None
    # Only hashes are on disk.
    stored = (stack.state_dir / "hub" / "accounts.json").read_text()
    assert alice not in stored and bob not in stored


def test_a_removed_account_cannot_sign_in(stack: Stack, accounts):
    made = cli("users", "add", "acct-carol", config=stack.config).stdout.splitlines()[1]
    password = made.split(",")[1]
    assert _who(_login(stack, "acct-carol", password), stack) == "acct-carol"
    cli("users", "remove", "acct-carol", config=stack.config)
    assert _who(_login(stack, "acct-carol", password), stack) is None


@pytest.mark.parametrize(
    ("local", "line"),
    [
        ({"homes_dir": "/home"}, "local.homes_dir: `/home` is a directory shared with the rest"),
        ({"homes_dir": "/"}, "local.homes_dir: `/` is the root of the filesystem"),
        ({"state_dir": "/var/lib"}, "local.state_dir: `/var/lib` is a directory shared"),
    ],
)
def test_destroy_purge_with_an_unsafe_path_is_refused_before_anything_goes(
    stack: Stack, tmp_path: Path, local: dict, line: str
):
    config = yaml.safe_load(stack.config.read_text())
    config["local"].update(local)
    unsafe = tmp_path / "unsafe.yaml"
    unsafe.write_text(yaml.safe_dump(config))
    marker = stack.homes_dir / "acct-keep.txt"
    marker.write_text("still here")

    proc = cli("destroy", "--purge", "--yes", config=unsafe, check=False)

    assert proc.returncode == 1
    errors = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert len(errors) == 1 and line in errors[0], proc.stderr
    assert proc.stdout == ""
    # Nothing was removed: the stack still answers, its homes are intact.
    assert stack.healthy()
    assert marker.read_text() == "still here"
    assert Path("/home").is_dir() and Path("/etc/passwd").exists()
    marker.unlink()
