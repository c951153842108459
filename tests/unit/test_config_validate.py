"""`pipeline.py validate`: offline by default, every problem one line, and what only
this machine can tell (tools, secrets from the environment, unreadable files)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import typing
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from swarmhub import cli
from swarmhub.config import Config, load_config, secrets_scan
from swarmhub.config.problems import PATTERNS
from swarmhub.config.regions import AWS_REGIONS
from swarmhub.config.source import parse

REPO = Path(__file__).resolve().parents[2]
# What deploy and bake also need (a state bucket; no unverified Chef Server).
AWS = (
    "aws:\n  region: eu-central-1\n"
    "  fleet:\n    chef_server: false\n    backend: {bucket: tf-state}\n"
)
GITHUB = (
    "hub:\n  auth:\n    kind: github\n    admin_users: [prof]\n"
    "    github: {client_id: Iv1.abc, allowed_organizations: [physics-101]}\n"
)


def validate(tmp_path, text: str | bytes, *args):
    path = tmp_path / "swarmhub.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    result = CliRunner().invoke(cli.main, ["validate", "--config", str(path), *args])
    return path, result


def test_the_example_is_valid_and_says_so():
    result = CliRunner().invoke(
        cli.main, ["validate", "--config", str(REPO / "swarmhub.example.yaml")]
    )
    assert result.exit_code == 0, result.output
    assert (
        result.output
        == f"{REPO / 'swarmhub.example.yaml'}: valid for the local target (offline checks)\n"
    )


def test_no_config_file_is_not_valid(tmp_path, monkeypatch):
    # deploy takes the defaults without one; validate says there is none (issue 23).
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli.main, ["validate"])
    assert result.exit_code == 1, result.output
    assert "valid" not in result.output.replace("invalid", "")


def test_shared_password_is_valid_with_a_warning(tmp_path):
    _, result = validate(tmp_path, "hub:\n  auth:\n    kind: shared-password\n")
    assert result.exit_code == 0
    assert (
        "warning: hub.auth.kind is shared-password: anyone with the class password can sign "
        "in under any name" in result.output
    )


def test_accounts_are_for_the_local_target(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: f"/usr/bin/{name}")
    path, result = validate(tmp_path, AWS)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"error: {path}:1:1: hub.auth.kind: is accounts (the default), which the local target "
        "keeps; on AWS sign in with GitHub (kind: github) or, for a workshop, kind: shared-password"
    ]


def test_missing_tools_are_found_before_a_bake(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda *a, **k: None)
    path, result = validate(tmp_path, AWS + GITHUB)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"error: {path}:2:3: aws.ami.packer_binary: 'packer' was not found on PATH; install "
        "packer >= 1.10 from releases.hashicorp.com, or set aws.ami.packer_binary",
        f"error: {path}:4:5: aws.fleet.terraform_binary: terraform or tofu was not found on "
        "PATH; install Terraform >= 1.11 or OpenTofu >= 1.11, or set aws.fleet.terraform_binary",
    ]
    # bake needs only packer, and says so before it builds anything.
    result = CliRunner().invoke(cli.main, ["bake", "--config", str(path)])
    assert result.exit_code == 1
    assert len(result.output.splitlines()) == 1 and "'packer' was not found" in result.output


def test_the_github_secret_deploy_takes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("SWARMHUB_GITHUB_CLIENT_SECRET", raising=False)
    path, result = validate(tmp_path, GITHUB)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"error: {path}:3:11: hub.auth.kind: is github but SWARMHUB_GITHUB_CLIENT_SECRET is not "
        "set; export it with your GitHub OAuth app's client secret (it goes straight into a "
        "Swarm secret)"
    ]
    monkeypatch.setenv("SWARMHUB_GITHUB_CLIENT_SECRET", "s3cret")
    assert validate(tmp_path, GITHUB)[1].exit_code == 0


def test_unreadable_and_undecodable_files_are_one_line_without_a_traceback(tmp_path, monkeypatch):
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"hub:\n  port: 8000 # caf\xe9\n")
    proc = subprocess.run(
        [sys.executable, str(REPO / "pipeline.py"), "validate", "--config", str(bad)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 1
    assert proc.stderr == f"error: {bad}:2:19: is not UTF-8 (byte 0xe9); save the file as UTF-8\n"

    def denied(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    path, result = validate(tmp_path, "hub: {}\n")
    assert result.output == (
        f"error: {path}: cannot read: permission denied; run as a user who may, or fix its mode\n"
    )
    result = CliRunner().invoke(cli.main, ["validate", "--config", str(tmp_path)])
    assert result.exit_code == 1


def test_a_directory_given_as_the_config(tmp_path):
    result = CliRunner().invoke(cli.main, ["validate", "--config", str(tmp_path)])
    assert result.output == f"error: {tmp_path}: is a directory; give the config file itself\n"


def test_duplicate_keys_are_found_at_any_depth():
    with pytest.raises(Exception, match=r"x:4:3: hub\.port: written twice \(first at line 2\)"):
        parse("hub:\n  port: 1\n  https: 'off'\n  port: 2\n", "x")


def test_marks_of_keys_and_values():
    _, src = parse("hub:\n  port: 8000\nservers:\n  profiles:\n    - name: a\n", "f")
    assert src.where(("hub", "port")) == "f:2:9"
    assert src.where(("hub", "port"), key=True) == "f:2:3"
    assert src.where(("servers", "profiles", 0, "name")) == "f:5:13"
    # Not written: the nearest part that is.
    assert src.where(("servers", "profiles", 0, "image")) == "f:5:7"
    assert src.scalars[("hub", "port")].text == "8000"


def test_merge_keys_still_work():
    data, _ = parse("base: &b {port: 8000}\nhub:\n  <<: *b\n  https: 'off'\n", "f")
    assert data["hub"] == {"port": 8000, "https": "off"}


# --- the model's own promises ------------------------------------------------------------


def _fields(model: type[BaseModel], loc: tuple = ()):
    for name, info in model.model_fields.items():
        yield loc + (name,), info
        for arg in (info.annotation, *typing.get_args(info.annotation)):
            for inner in (arg, *typing.get_args(arg)):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    yield from _fields(inner, loc + (name,))


def test_no_field_shows_a_raw_pattern():
    patterns = {
        m.pattern for _, info in _fields(Config) for m in info.metadata if hasattr(m, "pattern")
    }
    assert patterns and patterns <= set(PATTERNS)


def test_fields_named_like_secrets_are_known_not_to_be():
    named = {loc for loc, _ in _fields(Config) if secrets_scan._SECRET_WORD.search(loc[-1])}
    assert named == set(secrets_scan.NOT_SECRETS)


@pytest.mark.parametrize(
    ("key", "value", "refused"),
    [
        ("monkey", "x", False),
        ("keep", 3, False),
        ("api_key", "abc", True),
        ("Token", "abc", True),
        ("password", "", False),
        ("note", "ghp_" + "a" * 36, True),
        ("owner", "AKIA" + "A" * 16, True),
        ("enabled_secret", True, False),
    ],
)
def test_secret_detection(key, value, refused):
    assert bool(secrets_scan.find({"aws": {"fleet": {"tags": {key: value}}}})) is refused


def test_the_region_list_has_every_region_botocore_knows():
    import json
    import os

    import botocore

    data = json.loads(
        (Path(os.path.dirname(botocore.__file__)) / "data" / "endpoints.json").read_text()
    )
    known = {
        region
        for part in data["partitions"]
        if part["partition"] in ("aws", "aws-cn", "aws-us-gov")
        for region in part["regions"]
    }
    assert known <= AWS_REGIONS, sorted(known - AWS_REGIONS)
    assert all(re.match(r"^[a-z]{2}(-[a-z]+)+-\d$", r) for r in AWS_REGIONS)


def test_what_the_hub_reads_back_is_what_deploy_rendered(tmp_path):
    from swarmhub.hub.settings import render
    from tests.helpers import runtime

    cfg = load_config(REPO / "swarmhub.example.yaml")
    (tmp_path / "settings.json").write_text(render(cfg, runtime()))
    from swarmhub.hub import settings

    settings.load.cache_clear()
    assert settings.load(str(tmp_path / "settings.json")).config == cfg
    settings.load.cache_clear()


@pytest.fixture
def online_aws(tmp_path, monkeypatch):
    from moto import mock_aws

    from swarmhub.aws import packer, terraform

    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("SWARMHUB_GITHUB_CLIENT_SECRET", "s3cret")
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: f"/usr/bin/{name}")
    monkeypatch.setattr(packer, "check_version", lambda binary: "1.11.2")
    monkeypatch.setattr(terraform, "check_version", lambda binary: "1.9")
    with mock_aws():
        yield tmp_path


def test_online_asks_aws_for_the_region_and_the_baked_amis(online_aws):
    import json

    work = online_aws / "work"
    work.mkdir()
    (work / "amis.json").write_text(
        json.dumps({"worker": {"ami_id": "ami-0123456789abcdef0", "region": "eu-central-1"}})
    )
    text = AWS + f"  ami:\n    work_dir: {work}\n" + GITHUB
    path, result = validate(online_aws, text, "--online")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"error: {path}:7:5: aws.ami: the baked worker AMI ami-0123456789abcdef0 is gone "
        "from eu-central-1; run `pipeline.py bake --target aws`"
    ]
    # Offline, nothing asks AWS: the same file passes.
    assert validate(online_aws, text)[1].exit_code == 0


def test_online_without_credentials_is_one_line(online_aws, monkeypatch):
    import botocore.exceptions

    def no_credentials(*args, **kwargs):
        raise botocore.exceptions.NoCredentialsError()

    import boto3

    monkeypatch.setattr(boto3.session.Session, "client", no_credentials)
    path, result = validate(online_aws, AWS + GITHUB, "--online")
    assert result.output.splitlines() == [
        f"error: {path}:2:3: aws: no AWS credentials; set AWS_PROFILE or run `aws configure`"
    ]


def test_each_command_checks_what_it_needs(tmp_path, monkeypatch):
    from swarmhub import validate as v
    from swarmhub.config import parse_config

    monkeypatch.setattr(shutil, "which", lambda *a, **k: None)
    cfg = parse_config({"aws": {"region": "eu-central-1"}}, "t")
    fields = {c: [p.field for p in v.problems(cfg, "aws", c)] for c in v.NEEDS}
    bucket, chef = "aws.fleet.backend.bucket", "aws.ami.chef_server_package_sha256"
    assert fields == {
        # Everything deploy and bake would refuse (AwsConfig.refusals).
        "validate": [
            bucket,
            chef,
            "hub.auth.kind",
            "aws.ami.packer_binary",
            "aws.fleet.terraform_binary",
        ],
        "bake": [chef, "aws.ami.packer_binary"],
        "deploy": [bucket, "hub.auth.kind", "aws.fleet.terraform_binary"],
        # A fleet can always be taken down, whatever its sign-in.
        "destroy": [bucket, "aws.fleet.terraform_binary"],
        # Rendering reads and writes files only; a plan needs Terraform's state.
        "plan": [bucket, "hub.auth.kind"],
        "render": ["hub.auth.kind"],
    }


def test_the_local_target_s_root_and_bake_come_first(tmp_path, monkeypatch):
    import os

    path = tmp_path / "swarmhub.yaml"
    path.write_text(f"local:\n  state_dir: {tmp_path / 'state'}\n")
    result = CliRunner().invoke(cli.main, ["deploy", "--config", str(path)])
    assert result.output.splitlines() == [
        f"error: {path}:2:14: local.state_dir: `{tmp_path / 'state'}` holds no baked images "
        "yet; run `python pipeline.py bake` first"
    ]
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    result = CliRunner().invoke(cli.main, ["destroy", "--config", str(path)])
    assert result.output.splitlines() == [
        f"error: {path}:1:1: `destroy` on the local target must run as root (it manages the "
        "Docker engine, network namespaces and bridges); run it with sudo"
    ]
    # validate itself needs no root.
    assert CliRunner().invoke(cli.main, ["validate", "--config", str(path)]).exit_code == 0
    assert not (tmp_path / "state").exists()


def test_an_overlay_too_small_for_the_fullest_fleet_is_refused_with_its_numbers(tmp_path):
    # 100 nodes of this machine (16G or more) at 256M a server: 64 or more servers
    # a node, more than a /20's 4,093 addresses.
    text = (
        "swarm:\n  overlay_subnet: 10.214.0.0/20\n"
        "servers:\n  mem_reservation: 256M\n  cpu_reservation: 0.01\n"
        "autoscaler:\n  max_nodes: 100\n"
    )
    path, result = validate(tmp_path, text)
    assert result.exit_code == 1, result.output
    line = next(x for x in result.output.splitlines() if "overlay_subnet" in x)
    assert f"{path}:2:" in line and "is too small" in line and "4,093 addresses" in line
    assert "widen it to a /" in line and "or lower max_nodes to " in line
    _, result = validate(tmp_path, text.replace("/20", "/16"))
    assert result.exit_code == 0, result.output
