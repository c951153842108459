"""`pipeline.py users`: one identity per student; each password printed once, only
hashes kept, in the file the hub reads (<state_dir>/hub/accounts.json)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from swarmhub import accounts, cli


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.setattr(accounts, "SCRYPT_N", 2**10)
    path = tmp_path / "swarmhub.yaml"
    path.write_text(f"local:\n  state_dir: {tmp_path / 'state'}\n")
    return path


def users(config, *args):
    return CliRunner().invoke(cli.main, ["users", *args, "--config", str(config)])


def test_add_prints_each_password_once_and_keeps_only_hashes(config, tmp_path):
    result = users(config, "add", "alice", "Bob")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "username,password"
    printed = dict(line.split(",") for line in lines[1:])
    assert list(printed) == ["alice", "bob"]
    assert all(len(p) == 14 and p.count("-") == 2 for p in printed.values())
    stored = json.loads((tmp_path / "state" / "hub" / "accounts.json").read_text())["users"]
    assert set(stored) == {"alice", "bob"}
    assert all(accounts.verify_password(printed[n], stored[n]["hash"]) for n in printed)
    text = (tmp_path / "state" / "hub" / "accounts.json").read_text()
    assert not any(p in text for p in printed.values())

    again = users(config, "add", "alice")
    assert again.exit_code == 0
    assert again.stdout == ""  # an existing account keeps its password, printed never again
    assert (
        "kept 1 existing account(s) as they were (alice); --reset gives them new passwords"
        in again.stderr
    )

    reset = users(config, "add", "alice", "--reset")
    assert reset.stdout.splitlines()[1].startswith("alice,")
    assert reset.stdout.splitlines()[1] != f"alice,{printed['alice']}"


def test_a_roster_csv(config, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("# physics 101\nName,Username,Email\nAda L,ada,a@x\n\nBo B,bo,b@x\n")
    result = users(config, "add", "--from", str(roster))
    assert result.exit_code == 0, result.output
    assert [row.split(",")[0] for row in result.stdout.splitlines()[1:]] == ["ada", "bo"]
    headerless = tmp_path / "plain.csv"
    headerless.write_text("cy\ndee\n")
    assert [
        row.split(",")[0]
        for row in users(config, "add", "--from", str(headerless)).stdout.splitlines()[1:]
    ] == ["cy", "dee"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "../etc"], "error: `../etc` is not a user name"),
        (["add"], "error: name at least one user, or give --from roster.csv"),
        (
            ["add", "--from", "/nonexistent/roster.csv"],
            "error: /nonexistent/roster.csv: no such roster file",
        ),
    ],
)
def test_refusals_are_one_line_and_write_nothing(config, tmp_path, args, message):
    result = users(config, *args)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith(message)
    assert not (tmp_path / "state").exists()


def test_a_roster_that_is_not_utf8(config, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_bytes(b"Jos\xe9\n")
    result = users(config, "add", "--from", str(roster))
    assert result.stderr.strip() == f"error: {roster}: is not UTF-8; save the roster as UTF-8 CSV"


def test_list_and_remove(config):
    users(config, "add", "alice", "admin")
    listed = users(config, "list")
    assert [row.split("\t")[:2] for row in listed.stdout.splitlines()] == [
        ["admin", "admin"],
        ["alice", "user"],
    ]
    assert "scrypt" not in listed.output
    removed = users(config, "remove", "alice", "zed")
    assert removed.exit_code == 0
    assert "no account for: zed" in removed.stderr
    assert [row.split("\t")[0] for row in users(config, "list").stdout.splitlines()] == ["admin"]


def test_with_another_sign_in_the_accounts_wait_with_a_warning(config, tmp_path):
    config.write_text(config.read_text() + "hub:\n  auth:\n    kind: shared-password\n")
    result = users(config, "add", "alice")
    assert result.exit_code == 0
    assert result.stderr.startswith(
        "warning: hub.auth.kind is shared-password: the hub does not use these accounts"
    )


def test_deploy_s_login_lines_for_the_default(config, tmp_path):
    from swarmhub.config import load_config

    cfg = load_config(config)
    users(config, "add", "ada", "bo")
    made = accounts.ensure_admins(accounts.accounts_file(cfg), cfg.hub.auth.admin_users)
    assert accounts.login_lines(cfg, made) == [
        f"  admin admin: password {made['admin']}  (shown once; it is stored only hashed)",
        "  2 student account(s); add more: python pipeline.py users add NAME... "
        "or --from roster.csv (each password is shown once)",
    ]


def test_after_deploy_prints_an_admin_password_once(config):
    from swarmhub.config import load_config

    cfg = load_config(config)
    first = accounts.after_deploy(cfg)
    assert first[0].startswith("  admin admin: password ")
    second = accounts.after_deploy(cfg)
    assert second == [
        "  0 student account(s); add more: python pipeline.py users add NAME... "
        "or --from roster.csv (each password is shown once)"
    ]


def test_after_deploy_for_the_workshop_mode_warns(config, tmp_path):
    from swarmhub.config import load_config

    config.write_text(config.read_text() + "hub:\n  auth:\n    kind: shared-password\n")
    lines = accounts.after_deploy(load_config(config))
    secrets_dir = tmp_path / "state" / "secrets"
    assert lines[:2] == [
        f"  admin users (admin): password in {secrets_dir}/swarmhub-admin-password",
        f"  students (any user name): class password in {secrets_dir}/swarmhub-user-password",
    ]
    assert lines[2].startswith("  warning: hub.auth.kind is shared-password: anyone with")
    assert not (tmp_path / "state" / "hub" / "accounts.json").exists()
