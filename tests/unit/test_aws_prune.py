"""Prune against moto: old AMIs go with their snapshots, never one still in use."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from swarmhub.aws import amis, prune
from swarmhub.errors import SwarmhubError
from tests.unit.test_aws_bake import NOW, REGION, aws_env, make_cfg, register_ami

# aws_env is a fixture: imported so pytest finds it here, used by name below.
__all__ = ["aws_env"]


@pytest.fixture
def ec2(aws_env):
    with mock_aws():
        yield boto3.client("ec2", region_name=REGION)


def worker_amis(ec2, count: int, *, deployment="swarmhub", image="worker"):
    """`count` tagged AMIs, oldest first (names carry the build time, as the bake's do)."""
    made = []
    for day in range(1, count + 1):
        ami_id, snapshot = register_ami(
            ec2,
            f"{deployment}-{image}-202611{day:02d}-000000-0123456789ab",
            {"swarmhub:image": image, "swarmhub:deployment": deployment},
        )
        made.append((ami_id, snapshot))
    return made


def exists(ec2, ami_id: str) -> bool:
    return bool(ec2.describe_images(Owners=["self"], ImageIds=[ami_id])["Images"])


def snapshots(ec2) -> set[str]:
    return {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}


def test_keeps_the_newest_and_what_is_in_use(ec2, tmp_path):
    cfg = make_cfg(tmp_path)
    made = worker_amis(ec2, 6)  # [0] oldest ... [5] newest
    # In use: [0] by a launch template's $Latest, [1] by its $Default (an older
    # version), [2] by the state file deploy reads.
    template = ec2.create_launch_template(
        LaunchTemplateName="swarmhub-worker", LaunchTemplateData={"ImageId": made[1][0]}
    )["LaunchTemplate"]["LaunchTemplateId"]
    ec2.create_launch_template_version(
        LaunchTemplateId=template, LaunchTemplateData={"ImageId": made[0][0]}
    )
    amis.record_image(cfg, "worker", {"ami_id": made[2][0]}, now=NOW)
    # Someone else's AMIs are never ours to prune.
    other = worker_amis(ec2, 4, deployment="other")

    removed = prune.prune(cfg, keep=2)

    assert removed == [made[3][0]]
    assert not exists(ec2, made[3][0])
    assert made[3][1] not in snapshots(ec2)
    for ami_id, snapshot in made[:3] + made[4:]:
        assert exists(ec2, ami_id)
        assert snapshot in snapshots(ec2)
    assert all(exists(ec2, ami_id) for ami_id, _ in other)


def test_a_running_instance_keeps_its_ami(ec2, tmp_path):
    cfg = make_cfg(tmp_path)
    made = worker_amis(ec2, 3)
    ec2.run_instances(ImageId=made[0][0], MinCount=1, MaxCount=1, InstanceType="t3.micro")

    removed = prune.prune(cfg, keep=1)

    assert removed == [made[1][0]]
    assert exists(ec2, made[0][0])


def test_dry_run_lists_and_changes_nothing(ec2, tmp_path, capsys):
    cfg = make_cfg(tmp_path)
    made = worker_amis(ec2, 4)
    before = snapshots(ec2)

    removed = prune.prune(cfg, keep=1, dry_run=True)

    assert removed == [made[2][0], made[1][0], made[0][0]]
    assert all(exists(ec2, ami_id) for ami_id, _ in made)
    assert snapshots(ec2) == before
    err = capsys.readouterr().err
    assert f"would deregister {made[0][0]}" in err
    assert made[0][1] in err  # the snapshot that would go is named
    assert "prune: would remove 3 AMI(s)" in err


def test_each_image_keeps_its_own_newest(ec2, tmp_path):
    cfg = make_cfg(tmp_path)
    workers = worker_amis(ec2, 2)
    servers = worker_amis(ec2, 2, image="chef-server")

    removed = prune.prune(cfg, keep=1)

    assert sorted(removed) == sorted([workers[0][0], servers[0][0]])


def test_missing_credentials_touch_nothing(aws_env, tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(SwarmhubError, match="no AWS credentials found"):
        prune.prune(make_cfg(tmp_path), keep=1)
