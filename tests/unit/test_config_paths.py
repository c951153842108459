"""homes_dir and state_dir must be swarmhub's own: the pure check destroy also calls,
and what `validate` asks of this machine (read-only)."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from swarmhub import cli
from swarmhub.config import paths_safety
from swarmhub.config.paths_safety import check_dedicated, check_pair, check_purge

USERS = ["/root", "/home/ada", "/home/bob", "/var/lib/postgresql", "/nonexistent", "/"]


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/", "is the root of the filesystem"),
        ("/home", "is a directory shared with the rest of the machine"),
        ("/var/lib", "is a directory shared with the rest of the machine"),
        ("/tmp", "is a directory shared with the rest of the machine"),
        ("/etc", "is a system directory"),
        ("/usr/local/swarmhub", "is inside the system directory /usr"),
        ("/var/lib/docker/homes", "is inside the system directory /var/lib/docker"),
        ("/home/ada", "is the home of an existing account (/home/ada)"),
        ("/var/lib/postgresql", "is the home of an existing account (/var/lib/postgresql)"),
        ("/home/", "is a directory shared with the rest of the machine"),
        ("/var/lib/swarmhub/../..", "climbs with `..` (it is /var)"),
        ("homes", "is not an absolute path"),
    ],
)
def test_unsafe_directories_are_refused(path, why):
    problem = check_dedicated(path, "homes_dir", user_homes=USERS)
    assert problem is not None and problem.startswith(why), problem


@pytest.mark.parametrize(
    "path",
    [
        "/var/lib/swarmhub",
        "/var/lib/swarmhub/homes",
        "/srv/course",
        "/home/ada/swarmhub-homes",
        "/tmp/pytest-of-x/homes",
        "/data/physics-101",
    ],
)
def test_dedicated_directories_pass(path):
    assert check_dedicated(path, "homes_dir", user_homes=USERS) is None


def test_an_accounts_parent_directory_is_refused():
    assert check_dedicated("/srv/people", "homes_dir", user_homes=["/srv/people/ada"]) == (
        "holds the home of an existing account (/srv/people/ada); give swarmhub a "
        "directory of its own, e.g. /var/lib/swarmhub/homes"
    )


@pytest.mark.parametrize(
    ("state", "homes", "field"),
    [
        ("/srv/sh", "/srv/sh", "homes_dir"),
        ("/srv/homes/state", "/srv/homes", "state_dir"),
        ("/srv/sh", "/srv/sh/secrets/x", "homes_dir"),
        ("/srv/sh", "/srv/sh/hub", "homes_dir"),
    ],
)
def test_the_two_directories_must_not_overlap_unsafely(state, homes, field):
    [(blamed, _)] = check_pair(state, homes)
    assert blamed == field


def test_homes_inside_the_state_dir_is_the_default_and_fine():
    assert check_pair("/var/lib/swarmhub", "/var/lib/swarmhub/homes") == []
    assert check_pair("/srv/a", "/srv/b") == []


def test_host_problems(tmp_path, monkeypatch):
    monkeypatch.setattr(paths_safety, "passwd_homes", lambda: [str(tmp_path / "ada")])
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "ada").mkdir()
    os.symlink("/etc", tmp_path / "to-etc")
    assert paths_safety.host_problem(str(tmp_path / "a-file"), "homes_dir") == (
        "exists and is a file, not a directory; remove it or choose another path"
    )
    assert paths_safety.host_problem(str(tmp_path / "a-file" / "homes"), "homes_dir") == (
        f"cannot be made: {tmp_path / 'a-file'} is a file, not a directory"
    )
    assert paths_safety.host_problem(str(tmp_path / "ada"), "homes_dir").startswith(
        "is the home of an existing account"
    )
    assert paths_safety.host_problem(str(tmp_path / "to-etc"), "state_dir") == (
        "leads (through a symbolic link) to /etc, which is a system directory; give swarmhub "
        "a directory of its own, e.g. /var/lib/swarmhub"
    )
    assert paths_safety.host_problem(str(tmp_path / "new" / "homes"), "homes_dir") is None


def test_check_purge_is_every_reason_one_line_each(monkeypatch):
    monkeypatch.setattr(paths_safety, "passwd_homes", lambda: ["/home/ada"])
    assert check_purge("/var/lib/swarmhub", "/var/lib/swarmhub/homes") == []
    assert check_purge("/", "/home/ada") == [
        "local.state_dir: `/` is the root of the filesystem; give swarmhub a directory of "
        "its own, e.g. /var/lib/swarmhub",
        "local.homes_dir: `/home/ada` is the home of an existing account (/home/ada); give "
        "swarmhub a directory of its own, e.g. /var/lib/swarmhub/homes",
    ]


def test_validate_names_the_line_of_a_path_only_the_machine_can_refuse(tmp_path, monkeypatch):
    monkeypatch.setattr(paths_safety, "passwd_homes", lambda: [str(tmp_path / "teacher")])
    (tmp_path / "teacher").mkdir()
    config = tmp_path / "swarmhub.yaml"
    config.write_text(
        f"local:\n  state_dir: {tmp_path / 'state'}\n  homes_dir: {tmp_path / 'teacher'}\n"
    )
    for command in (["validate"], ["deploy"], ["destroy", "--purge", "--yes"]):
        result = CliRunner().invoke(cli.main, [*command, "--config", str(config)])
        assert result.exit_code == 1
        assert result.output.splitlines() == [
            f"error: {config}:3:14: local.homes_dir: `{tmp_path / 'teacher'}` is the home of "
            f"an existing account ({tmp_path / 'teacher'}); give swarmhub a directory of its "
            "own, e.g. /var/lib/swarmhub/homes"
        ]
    assert not (tmp_path / "state").exists()
