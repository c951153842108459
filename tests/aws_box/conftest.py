"""What the box's scenario tests share: the box itself (one per module) and moto's clients."""

from __future__ import annotations

import base64
import os
import time

import boto3
import pytest

import box.__main__ as cli
from box import controller, machine
from tests.conftest import require_tool


def client(service: str, endpoint: str):
    return boto3.client(
        service,
        region_name=controller.REGION,
        endpoint_url=endpoint,
        aws_access_key_id="box",
        aws_secret_access_key="box",  # noqa: S106 - moto takes any key
    )


def wait(what: str, check, timeout: float):
    """check() until it is truthy (returned), or fail with the box's status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(1)
    pytest.fail(f"{what}: not within {timeout:.0f} s; box status {cli.status()}")


def running(instance_id: str, timeout: float = 240) -> dict:
    """The box's status entry once the instance's machine reaches multi-user."""
    return wait(
        f"{instance_id} reaches multi-user",
        lambda: (s := cli.status().get(instance_id, {})).get("state") == "running" and s,
        timeout,
    )


def network(ec2) -> str:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    return ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]


def ami(ec2) -> str:
    return ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]


@pytest.fixture(scope="module")
def endpoint():
    require_tool("systemd-nspawn")
    require_tool("debootstrap")
    require_tool("ruby")
    if os.geteuid() != 0:
        pytest.fail("the box needs root (namespaces, mounts, nspawn)")
    cli.down()
    try:
        yield cli.up(timeout=120)
    finally:
        cli.down()
    assert not any(p.name.startswith("i-") for p in machine.STATE.iterdir())


def worker_group(ec2, asg, subnet: str, name: str, user_data: str, desired: int, **data) -> None:
    """A launch template with this user-data (and any other template data) and its ASG."""
    ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={
            "ImageId": ami(ec2),
            "InstanceType": "t3.medium",
            "UserData": base64.b64encode(user_data.encode()).decode(),
            "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 1},
            **data,
        },
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name, "Version": "$Latest"},
        MinSize=0,
        MaxSize=2,
        DesiredCapacity=desired,
        VPCZoneIdentifier=subnet,
    )


def group_instance(asg, name: str) -> str:
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    return group["AutoScalingGroups"][0]["Instances"][0]["InstanceId"]
