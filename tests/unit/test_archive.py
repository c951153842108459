"""archive / restore: homes to verified tars and back, on tmp dirs and on moto's S3."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws

from swarmhub import archive as archiving
from swarmhub.archive.homes import NOTE
from swarmhub.archive.store import LIFECYCLE_RULE, LocalStore, S3Store
from swarmhub.cli import main as cli
from swarmhub.config import parse_config
from swarmhub.errors import SwarmhubError
from swarmhub.local.paths import MARK


def _tree(home: Path) -> dict[str, str]:
    """path -> sha256 (files) or '->target' (links) or 'dir'."""
    out = {}
    for p in sorted(home.rglob("*")):
        rel = str(p.relative_to(home))
        if p.is_symlink():
            out[rel] = "->" + os.readlink(p)
        elif p.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture
def site(tmp_path):
    homes, state = tmp_path / "homes", tmp_path / "state"
    homes.mkdir()
    (homes / MARK).write_text("made by swarmhub\n")
    for user in ("ada", "bob"):
        h = homes / user
        (h / "work" / "deep").mkdir(parents=True)
        (h / "notes.ipynb").write_text(f'{{"cells": [], "who": "{user}"}}\n')
        (h / "work" / "deep" / "data.bin").write_bytes(os.urandom(200_000))
        (h / "work" / "empty").mkdir()
        os.symlink("work/deep/data.bin", h / "latest")
    config = tmp_path / "swarmhub.yaml"
    config.write_text(f"local:\n  state_dir: {state}\n  homes_dir: {homes}\n")
    cfg = parse_config({"local": {"state_dir": str(state), "homes_dir": str(homes)}}, "t.yaml")
    return homes, state, config, cfg


def _cli(config, *args):
    return CliRunner().invoke(cli, [args[0], "--config", str(config), *args[1:]])


def test_archive_then_restore_gives_back_identical_files(site):
    homes, state, config, _ = site
    archives = state.with_name("state-archive")
    before = {u: _tree(homes / u) for u in ("ada", "bob")}
    result = _cli(config, "archive", "--course", "intro", "--users", "ada,bob")
    assert result.exit_code == 0, result.output
    for user in ("ada", "bob"):
        assert [p.name for p in (homes / user).iterdir()] == [NOTE]
        note = (homes / user / NOTE).read_text()
        # Beside the state, where destroy --purge does not reach (Paths.archives).
        assert str(archives / "intro" / user) in note and "restore " + user in note
    stored = sorted(p.name for p in (archives / "intro" / "ada").iterdir())
    assert len(stored) == 2 and stored[0].endswith(".manifest.json") and stored[1].endswith(".tar")

    again = _cli(config, "archive", "--course", "intro", "--users", "ada")
    assert again.exit_code == 0 and "nothing to archive" in again.output

    result = _cli(config, "restore", "ada")
    assert result.exit_code == 0, result.output
    assert "checksums match" in result.output
    assert _tree(homes / "ada") == before["ada"]  # the note is gone too
    assert _tree(homes / "bob") == {NOTE: _tree(homes / "bob")[NOTE]}  # only ada asked for


def test_a_stored_copy_that_does_not_match_deletes_nothing(site, monkeypatch):
    homes, state, _, cfg = site
    before = _tree(homes / "ada")

    class Corrupting(LocalStore):
        def get(self, key, target):
            super().get(key, target)
            data = bytearray(Path(target).read_bytes())
            data[600] ^= 0xFF  # one flipped bit inside the first file
            Path(target).write_bytes(bytes(data))

    store = Corrupting(state / "archive")
    with pytest.raises(SwarmhubError, match="1 of 1 homes not archived"):
        archiving.archive(cfg, "local", course="intro", users="ada", store=store)
    assert _tree(homes / "ada") == before
    assert not any(k.endswith(".manifest.json") for k in store.listing())


def test_a_file_changed_while_archiving_keeps_the_home(site):
    homes, state, _, cfg = site

    class Meddling(LocalStore):
        def put(self, key, source):
            super().put(key, source)
            os.utime(homes / "ada" / "notes.ipynb", (1, 1))  # the student saved meanwhile

    (a,) = archiving.archive(cfg, "local", course="intro", users="ada", store=Meddling(state / "a"))
    assert "changed while archiving" in a.kept_because and a.removed == 0
    assert (homes / "ada" / "notes.ipynb").exists() and (homes / "ada" / NOTE).exists()


def test_homes_swarmhub_did_not_make_are_archived_but_kept(site):
    homes, state, _, cfg = site
    (homes / MARK).unlink()
    (a,) = archiving.archive(cfg, "local", course="intro", users="ada")
    assert "not made by swarmhub" in a.kept_because
    assert (homes / "ada" / "work" / "deep" / "data.bin").exists()
    assert "still here" in (homes / "ada" / NOTE).read_text()


def test_restore_refuses_to_overwrite_a_newer_file_unless_told(site):
    homes, state, config, cfg = site
    archiving.archive(cfg, "local", course="intro", users="ada")
    (homes / "ada" / "notes.ipynb").write_text("written after the archive\n")
    result = _cli(config, "restore", "ada", "--course", "intro")
    assert result.exit_code == 1
    assert "notes.ipynb (newer)" in result.output and "nothing restored" in result.output
    assert (homes / "ada" / "notes.ipynb").read_text() == "written after the archive\n"
    assert not (homes / "ada" / "work").exists()  # nothing at all was written
    result = _cli(config, "restore", "ada", "--course", "intro", "--overwrite")
    assert result.exit_code == 0, result.output
    assert "who" in (homes / "ada" / "notes.ipynb").read_text()


def test_restore_without_course_when_two_courses_have_one_asks_which(site):
    homes, state, config, cfg = site
    archiving.archive(cfg, "local", course="intro", users="ada", keep_homes=True)
    archiving.archive(cfg, "local", course="stats", users="ada", keep_homes=True)
    result = _cli(config, "restore", "ada")
    assert result.exit_code == 1 and "intro, stats: choose one with --course" in result.output
    result = _cli(config, "restore", "nobody")
    assert result.exit_code == 1 and "no archive of nobody" in result.output


def test_users_come_from_the_option_or_a_roster(tmp_path):
    roster = tmp_path / "r.csv"
    roster.write_text("username,email\nada,a@x\n\nbob,b@x\n# gone\nada,a@x\n")
    assert archiving.course_users(None, "intro", None, str(roster)) == ["ada", "bob"]
    assert archiving.course_users(None, "intro", "ada, bob", None) == ["ada", "bob"]
    with pytest.raises(SwarmhubError, match="--users a,b,c or --roster"):
        archiving.course_users(None, "intro", None, None)
    with pytest.raises(SwarmhubError, match="not a user name"):
        archiving.course_users(None, "intro", "../root", None)


@mock_aws
def test_s3_archive_with_a_lifecycle_rule_and_restore(site, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    homes, _, _, cfg = site
    s3 = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(
        Bucket="term-archive", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    other = {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled",
             "Expiration": {"Days": 7}}  # fmt: skip
    s3.put_bucket_lifecycle_configuration(
        Bucket="term-archive", LifecycleConfiguration={"Rules": [other]}
    )
    before = _tree(homes / "ada")
    store = S3Store("s3://term-archive/homes", client=s3)
    (a,) = archiving.archive(
        cfg, "aws", course="intro", users="ada", homes=str(homes), store=store, expire_days=365
    )
    assert a.where.startswith("s3://term-archive/homes/intro/ada/") and a.removed == 2
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="term-archive")["Contents"]]
    assert len(keys) == 2 and all(k.startswith("homes/intro/ada/") for k in keys)
    rules = {
        r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket="term-archive")["Rules"]
    }
    assert set(rules) == {"logs", LIFECYCLE_RULE}
    assert rules[LIFECYCLE_RULE]["Filter"]["Prefix"] == "homes/"
    assert rules[LIFECYCLE_RULE]["Expiration"]["Days"] == 365
    assert rules[LIFECYCLE_RULE]["Transitions"][0]["StorageClass"] == "STANDARD_IA"
    assert [p.name for p in (homes / "ada").iterdir()] == [NOTE]

    archiving.restore(cfg, "aws", user="ada", course="intro", homes=str(homes), store=store)
    assert _tree(homes / "ada") == before


def test_on_aws_the_homes_and_the_bucket_must_be_named(site):
    _, _, _, cfg = site
    with pytest.raises(SwarmhubError, match="--homes DIR"):
        archiving.archive(cfg, "aws", course="intro", users="ada")
    with pytest.raises(SwarmhubError, match="s3://bucket/prefix"):
        archiving.archive(cfg, "aws", course="intro", users="ada", homes="/tmp")


def test_without_users_the_course_roster_of_the_config_decides():
    from swarmhub.config import parse_config

    cfg = parse_config(
        {
            "courses": [
                {"name": "intro", "roster": ["ada", "bob"], "start": "2026-09-01",
                 "end": "2026-12-20"},
                {"name": "teams", "roster": ["uni:students", "cy"], "start": "2026-09-01",
                 "end": "2026-12-20"},
            ],
            "hub": {"auth": {"kind": "github", "admin_users": ["prof"], "github": {"client_id": "x",
                                                          "allowed_users": ["ada"]}}},
        },
        "t",
    )  # fmt: skip
    assert archiving.course_users(cfg, "intro", None, None) == ["ada", "bob"]
    with pytest.raises(SwarmhubError, match="no course of that name.*courses: intro, teams"):
        archiving.course_users(cfg, "nope", None, None)
    with pytest.raises(SwarmhubError, match="GitHub teams \\(uni:students\\)"):
        archiving.course_users(cfg, "teams", None, None)
    assert archiving.course_users(cfg, "teams", "cy,dee", None) == ["cy", "dee"]
