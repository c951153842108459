"""The AWS bake against moto, with packer replaced at its one boundary.

The fake packer does what the real one does at the edge the bake sees: it
registers a tagged AMI and writes the manifest post-processor's JSON, in
packer's own format. Everything else (hashing, rendering, the export, the
state file, the EC2 lookups) is the real code.
"""

from __future__ import annotations

import json
import re
import subprocess
import tarfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from swarmhub.aws import amis, bake, packer
from swarmhub.config import parse_config
from swarmhub.errors import SwarmhubError

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account: the base image is "ours" there
NOW = datetime(2026, 11, 25, 18, 40, 0, tzinfo=UTC)


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """Fake credentials, and no real AWS config or instance metadata to fall back on."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)


def make_cfg(tmp_path: Path, **ami):
    fake_packer = tmp_path / "packer"
    fake_packer.write_text("#!/bin/sh\nexit 99\n")  # never run: the boundary is replaced
    fake_packer.chmod(0o755)
    return parse_config(
        {
            "aws": {
                "region": REGION,
                "fleet": {"chef_server": False},
                "ami": {
                    "base_ami_owner": ACCOUNT,
                    "base_ami_name": "ubuntu-noble-24.04-amd64-server-*",
                    "work_dir": str(tmp_path / "work"),
                    "packer_binary": str(fake_packer),
                    "notebook_image": "registry.example/swarmhub/notebook:abc123",
                    "hub_image": "registry.example/swarmhub/hub:abc123",
                    **ami,
                },
            }
        },
        "test.yaml",
    )


def register_ami(ec2, name: str, tags: dict[str, str]) -> tuple[str, str]:
    """An AMI with one snapshot, tagged (moto ignores TagSpecifications on register)."""
    volume = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=8)
    snapshot = ec2.create_snapshot(VolumeId=volume["VolumeId"])["SnapshotId"]
    image = ec2.register_image(
        Name=name,
        RootDeviceName="/dev/sda1",
        BlockDeviceMappings=[{"DeviceName": "/dev/sda1", "Ebs": {"SnapshotId": snapshot}}],
    )["ImageId"]
    if tags:
        ec2.create_tags(Resources=[image], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    # moto attaches a snapshot of its own: report the one the image really has.
    [registered] = ec2.describe_images(ImageIds=[image])["Images"]
    [snapshot] = amis.snapshot_ids(registered)
    return image, snapshot


class FakePacker:
    """Stands in for the packer subprocess: records every command line."""

    def __init__(self, ec2, *, version="1.11.2", fail_build_after_register=False):
        self.ec2 = ec2
        self.version = version
        self.fail_build_after_register = fail_build_after_register
        self.calls: list[list[str]] = []
        self.registered: list[tuple[str, str]] = []

    def __call__(self, argv, *, capture=False):
        argv = [str(a) for a in argv]
        self.calls.append(argv)
        if argv[1] == "version":
            return subprocess.CompletedProcess(argv, 0, f"Packer v{self.version}\n", "")
        if argv[1] == "build":
            self._build(argv)
        return subprocess.CompletedProcess(argv, 0, "", "")

    def _build(self, argv):
        var_files = [a.split("=", 1)[1] for a in argv if a.startswith("-var-file=")]
        values = json.loads(Path(var_files[-1]).read_text())
        ami_id, snapshot = register_ami(
            self.ec2,
            values["ami_name"],
            {
                "swarmhub:image": "worker",
                "swarmhub:deployment": values["name_prefix"],
                "swarmhub:input-hash": values["input_hash"],
                "swarmhub:git-revision": values["git_revision"],
                "swarmhub:policy-revision": values["policy_revision"],
            },
        )
        self.registered.append((ami_id, snapshot))
        run_uuid = str(uuid.uuid4())
        # Exactly what packer's manifest post-processor writes.
        manifest = {
            "builds": [
                {
                    "name": "this",
                    "builder_type": "amazon-ebs",
                    "build_time": 1764096000,
                    "files": None,
                    "artifact_id": f"{REGION}:{ami_id}",
                    "packer_run_uuid": run_uuid,
                    "custom_data": {
                        "image": "worker",
                        "input_hash": values["input_hash"],
                        "git_revision": values["git_revision"],
                        "policy_revision": values["policy_revision"],
                    },
                }
            ],
            "last_run_uuid": run_uuid,
        }
        Path(values["manifest_path"]).write_text(json.dumps(manifest, indent=2))
        if self.fail_build_after_register:
            raise SwarmhubError(
                "command failed (exit 1): packer build ...: a post-processor failed"
            )

    def subcommands(self):
        return [call[1] for call in self.calls]


@pytest.fixture
def ec2(aws_env):
    with mock_aws():
        client = boto3.client("ec2", region_name=REGION)
        register_ami(client, "ubuntu-noble-24.04-amd64-server-20261101", {})
        yield client


def expected_hash(cfg, ec2) -> str:
    base = bake.resolve_base_ami(ec2, ACCOUNT, cfg.aws.ami.base_ami_name)
    spec = bake.IMAGES["worker"]
    return bake.input_hash(bake.input_files(spec), bake.image_inputs(cfg, spec, base))


def test_unchanged_inputs_build_nothing(ec2, tmp_path, monkeypatch):
    cfg = make_cfg(tmp_path)
    existing, _ = register_ami(
        ec2,
        "swarmhub-worker-old",
        {
            "swarmhub:image": "worker",
            "swarmhub:deployment": "swarmhub",
            "swarmhub:input-hash": expected_hash(cfg, ec2),
            "swarmhub:git-revision": "abc",
        },
    )
    fake = FakePacker(ec2)
    monkeypatch.setattr(packer, "_packer", fake)

    bake.bake(cfg, only="worker", now=NOW)

    assert fake.calls == []
    assert not (tmp_path / "work" / "worker").exists(), "nothing rendered for a skipped image"
    state = amis.read_ami_state(cfg)
    assert state["worker"]["ami_id"] == existing
    assert state["worker"]["built"] is False
    assert state["worker"]["git_revision"] == "abc"


def test_build_runs_packer_and_records_the_manifest_ami(ec2, tmp_path, monkeypatch):
    cfg = make_cfg(tmp_path)
    fake = FakePacker(ec2)
    monkeypatch.setattr(packer, "_packer", fake)

    bake.bake(cfg, only="worker", now=NOW)

    work = tmp_path / "work" / "worker"
    binary = cfg.aws.ami.packer_binary
    template = str(packer.TEMPLATE_DIR)
    var_files = [
        f"-var-file={bake.REPO / 'images' / 'worker' / 'image.pkrvars.hcl'}",
        f"-var-file={work / 'worker.pkrvars.json'}",
    ]
    assert fake.calls == [
        [binary, "version"],
        [binary, "init", template],
        [binary, "validate", *var_files, template],
        [
            binary,
            "build",
            "-color=false",
            "-timestamp-ui",
            "-on-error=cleanup",
            *var_files,
            template,
        ],
    ]

    # Render, then act: the inputs are readable files.
    values = json.loads((work / "worker.pkrvars.json").read_text())
    digest = expected_hash(cfg, ec2)
    assert values["input_hash"] == digest
    assert values["ami_name"] == f"swarmhub-worker-20261125-184000-{digest[:12]}"
    assert values["deprecate_at"] == "2027-02-23T18:40:00Z"  # 90 days later
    assert values["base_ami_name"] == "ubuntu-noble-24.04-amd64-server-20261101"
    assert values["container_images"] == [
        "registry.example/swarmhub/notebook:abc123",
        "registry.example/swarmhub/hub:abc123",
    ]
    assert values["cinc_deb_sha256"] == cfg.aws.ami.cinc_deb_sha256
    attributes = json.loads((work / "attributes.json").read_text())
    assert attributes["swarmhub"]["images"]["preload"] == values["container_images"]
    # No cinc-workstation here: the local-mode archive carries its run list this way.
    assert attributes["run_list"] == ["recipe[swarmhub_worker::default]"]
    assert Path(values["policy_archive"]).is_file()

    [(ami_id, _snapshot)] = fake.registered
    state = amis.read_ami_state(cfg)
    assert state["worker"]["ami_id"] == ami_id
    assert state["worker"]["region"] == REGION
    assert state["worker"]["built"] is True
    assert state["worker"]["input_hash"] == digest
    assert state["worker"]["policy_revision"] == values["policy_revision"]

    # The next bake finds that AMI by its hash and builds nothing.
    fake.calls.clear()
    bake.bake(cfg, only="worker", now=NOW)
    assert fake.calls == []
    assert amis.read_ami_state(cfg)["worker"]["ami_id"] == ami_id


def test_force_rebuilds_an_unchanged_image(ec2, tmp_path, monkeypatch):
    cfg = make_cfg(tmp_path)
    register_ami(
        ec2,
        "swarmhub-worker-old",
        {
            "swarmhub:image": "worker",
            "swarmhub:deployment": "swarmhub",
            "swarmhub:input-hash": expected_hash(cfg, ec2),
        },
    )
    fake = FakePacker(ec2)
    monkeypatch.setattr(packer, "_packer", fake)

    bake.bake(cfg, only="worker", force=True, now=NOW)

    assert "build" in fake.subcommands()
    assert amis.read_ami_state(cfg)["worker"]["ami_id"] == fake.registered[0][0]


def test_a_config_change_is_a_new_input(ec2, tmp_path):
    before = expected_hash(make_cfg(tmp_path), ec2)
    after = expected_hash(make_cfg(tmp_path, hub_image="registry.example/swarmhub/hub:def456"), ec2)
    assert before != after
    # A newer base image from the pinned owner is one too.
    register_ami(ec2, "ubuntu-noble-24.04-amd64-server-20261120", {})
    assert expected_hash(make_cfg(tmp_path), ec2) != before


def test_failed_build_leaves_no_ami(ec2, tmp_path, monkeypatch):
    cfg = make_cfg(tmp_path)
    fake = FakePacker(ec2, fail_build_after_register=True)
    monkeypatch.setattr(packer, "_packer", fake)

    with pytest.raises(SwarmhubError, match=r"\[worker\] packer build failed, no AMI kept"):
        bake.bake(cfg, only="worker", now=NOW)

    [(ami_id, snapshot)] = fake.registered
    assert ec2.describe_images(Owners=["self"], ImageIds=[ami_id])["Images"] == []
    left = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
    assert snapshot not in {s["SnapshotId"] for s in left}
    assert amis.read_ami_state(cfg) == {}


def test_missing_credentials_stop_everything(aws_env, tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    cfg = make_cfg(tmp_path)
    calls = []
    monkeypatch.setattr(packer, "_packer", lambda argv, **kw: calls.append(argv))

    with pytest.raises(SwarmhubError, match="no AWS credentials found") as err:
        bake.bake(cfg, now=NOW)

    assert "\n" not in str(err.value)
    assert calls == []
    assert not (tmp_path / "work").exists()


def test_too_old_packer_is_refused_before_building(ec2, tmp_path, monkeypatch):
    cfg = make_cfg(tmp_path)
    fake = FakePacker(ec2, version="1.6.6")
    monkeypatch.setattr(packer, "_packer", fake)

    with pytest.raises(SwarmhubError, match=r"packer 1\.6\.6, the template needs >= 1\.10"):
        bake.bake(cfg, only="worker", now=NOW)

    assert fake.subcommands() == ["version"]
    assert amis.read_ami_state(cfg) == {}


def test_missing_packer_binary_is_one_clear_error(ec2, tmp_path, monkeypatch):
    cfg = make_cfg(tmp_path, packer_binary=str(tmp_path / "nowhere" / "packer"))
    monkeypatch.setattr(packer, "_packer", FakePacker(ec2))
    with pytest.raises(SwarmhubError, match="aws.ami.packer_binary: .* does not exist"):
        bake.bake(cfg, only="worker", now=NOW)


def test_chef_server_needs_a_verified_package(ec2, tmp_path, monkeypatch):
    cfg = make_cfg(tmp_path)
    fake = FakePacker(ec2)
    monkeypatch.setattr(packer, "_packer", fake)
    with pytest.raises(SwarmhubError, match="chef_server_package_sha256 is not set"):
        bake.bake(cfg, only="chef-server", now=NOW)
    assert fake.calls == []


@pytest.mark.parametrize(
    ("only", "ami", "names"),
    [
        ("chef-server", {}, "aws.ami.chef_server_package_sha256 is not set"),
        # Named on purpose: the defaults mean the local bake's images instead.
        ("worker", {"hub_image": "swarmhub/hub:0.2.0"}, "aws.ami.hub_image is swarmhub/hub"),
        ("worker", {"notebook_image": "swarmhub/notebook:0.2.0"}, "aws.ami.notebook_image"),
    ],
)
def test_what_cannot_be_verified_is_refused_before_any_aws_call(
    tmp_path, monkeypatch, only, ami, names
):
    """No credentials, no emulator: the refusal comes before the first AWS call."""

    def no_aws(*args, **kwargs):
        raise AssertionError("an AWS call before the refusal")

    monkeypatch.setattr(bake.amis, "aws_session", no_aws)
    with pytest.raises(SwarmhubError, match=re.escape(names)) as err:
        bake.bake(make_cfg(tmp_path, **ami), only=only, now=NOW)
    assert "\n" not in str(err.value)


def test_chef_server_attributes_name_the_pinned_package(tmp_path):
    cfg = make_cfg(tmp_path, chef_server_package_sha256="ab" * 32, chef_server_flavor="chef")
    chef = bake.attributes(cfg, bake.IMAGES["chef-server"])["swarmhub"]["chef_server"]
    assert chef["flavor"] == "chef"
    assert chef["packages"]["chef"] == {
        "url": cfg.aws.ami.chef_server_package_url,
        "sha256": "ab" * 32,
    }
    assert chef["ssm_prefix"] == "/swarmhub/chef-server"


def test_manifest_reader_takes_the_last_run_only(tmp_path):
    path = tmp_path / "packer-manifest.json"
    build = {
        "name": "this",
        "builder_type": "amazon-ebs",
        "build_time": 1,
        "files": None,
        "custom_data": {"image": "worker"},
    }
    path.write_text(
        json.dumps(
            {
                "builds": [
                    {**build, "artifact_id": f"{REGION}:ami-0old", "packer_run_uuid": "run-1"},
                    {
                        **build,
                        "artifact_id": f"eu-west-1:ami-0copy,{REGION}:ami-0new",
                        "packer_run_uuid": "run-2",
                    },
                ],
                "last_run_uuid": "run-2",
            }
        )
    )
    assert packer.read_manifest(path, REGION)["ami_id"] == "ami-0new"
    assert packer.read_manifest(path, "eu-west-1")["ami_id"] == "ami-0copy"
    assert packer.read_manifest(tmp_path / "absent.json", REGION) is None
    with pytest.raises(SwarmhubError, match="no AMI for region ap-south-1"):
        packer.read_manifest(path, "ap-south-1")


def test_state_of_another_region_is_not_read(tmp_path):
    cfg = make_cfg(tmp_path)
    amis.record_image(cfg, "worker", {"ami_id": "ami-0abc"}, now=NOW)
    moved = parse_config(
        {"aws": {"region": "eu-west-1", "ami": {"work_dir": str(tmp_path / "work")}}}, "t.yaml"
    )
    assert amis.read_ami_state(cfg)["worker"]["ami_id"] == "ami-0abc"
    assert amis.read_ami_state(moved) == {}


def test_the_policy_archive_carries_the_join_script_itself(tmp_path):
    """No cinc-workstation here: the local-mode archive, with .chef/config.rb at its root."""
    archive, revision, policyfile = bake.export_policy(bake.IMAGES["worker"], tmp_path)
    assert not policyfile
    assert revision.startswith("local-")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        join = tar.extractfile("cookbooks/swarmhub_worker/files/swarm-join.sh").read()
        mode = tar.getmember("cookbooks/swarmhub_worker/files/swarm-join.sh").mode
        config = tar.extractfile(".chef/config.rb").read().decode()
    assert join == bake.JOIN_SCRIPT.read_bytes()
    assert mode == 0o755
    assert "cookbooks/swarmhub_common/metadata.rb" in names
    assert not any(n.startswith("cookbooks/swarmhub_chef_server/") for n in names)
    assert "local_mode true" in config
    # Same inputs, same bytes: the revision is reproducible.
    again, revision_again, _ = bake.export_policy(bake.IMAGES["worker"], tmp_path / "again")
    assert revision_again == revision
    assert again.read_bytes() == archive.read_bytes()
