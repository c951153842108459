"""The box's join scenario: the real worker user-data boots a node that joins the swarm.

A manager machine inits a swarm and publishes the worker join token in moto's
SSM as swarmhub-manager-up does (steps 2-3 of that script: the hub image is
not in the box yet, so the test runs those two commands in the manager). An
Auto Scaling group then launches a worker from a launch template carrying the
user-data swarmhub's Terraform renders from
terraform/modules/workers/templates/user-data.sh.tftpl. Nothing in the worker
is the test's: cloud-init runs that user-data, which enables the cookbook's
swarmhub-join.service (rendered into the image by box/image.py); the join
script reads the token from SSM with the instance's role credentials from the
box's IMDS, over https to AWS's own name (box/tls.py), and joins. The test
sees the node Ready in the manager's swarm, labelled with the instance id by
swarmhub-engine-label; scale-in to 0 powers the machine off.

Needs root, systemd-nspawn, debootstrap and ruby (the first run builds the
image; later runs find it in /var/cache/swarmhub-box).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import box.__main__ as cli
from box import machine
from tests.aws_box.conftest import (
    ami,
    client,
    group_instance,
    network,
    running,
    wait,
    worker_group,
)
from tests.unit.test_aws_deploy import NO_CHEF, render_tftpl

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "terraform" / "modules" / "workers" / "templates" / "user-data.sh.tftpl"
TOKEN_PARAM = "/swarmhub/swarm/join-token"
# What terraform/modules/secrets writes before any manager boots.
PLACEHOLDER = "unset: written by the manager at boot or by the operator"
# swarmhub-manager-up's steps 2 and 3 (cookbooks/swarmhub_worker/files), as it runs them.
MANAGER_UP = """
addr="$1"
docker swarm init --advertise-addr "$addr" --listen-addr "$addr:2377" \\
  --default-addr-pool 10.128.0.0/12 --default-addr-pool-mask-length 20 >/dev/null
token="$(docker swarm join-token -q worker)"
printf '%s' "$token" | AWS_DEFAULT_REGION=us-east-1 aws ssm put-parameter --name "$2" \\
  --type SecureString --key-id "$3" --overwrite --value file:///dev/stdin >/dev/null
"""
# Each node of the manager's swarm: its engine's instance-id label and its state.
NODES = """
for n in $(docker node ls -q); do
  docker node inspect --format \\
    '{{index .Description.Engine.Labels "swarmhub.instance-id"}} {{.Status.State}}' "$n"
done
"""


def _profile(iam, name: str) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    return name


def _machine(entry: dict, instance_id: str) -> machine.Machine:
    return machine.Machine(
        instance_id, entry["private_ip"], 24, "", Path(entry["dir"]), entry["pid"]
    )


def test_the_real_worker_user_data_joins_the_managers_swarm_and_scale_in_stops_it(endpoint):
    ec2, asg = client("ec2", endpoint), client("autoscaling", endpoint)
    ssm, iam, kms = client("ssm", endpoint), client("iam", endpoint), client("kms", endpoint)
    subnet = network(ec2)
    key = kms.create_key()["KeyMetadata"]["Arn"]
    ssm.put_parameter(Name=TOKEN_PARAM, Type="SecureString", KeyId=key, Value=PLACEHOLDER)
    options = {"HttpTokens": "required", "HttpPutResponseHopLimit": 1}

    # The manager: a box machine whose swarm token goes to SSM with its role's credentials.
    manager_id = ec2.run_instances(
        ImageId=ami(ec2),
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet,
        IamInstanceProfile={"Name": _profile(iam, "swarmhub-manager")},
        MetadataOptions=options,
    )["Instances"][0]["InstanceId"]
    manager_entry = running(manager_id)
    manager = _machine(manager_entry, manager_id)
    manager_ip = manager_entry["private_ip"]
    up = machine.inside(
        manager, ["sh", "-ec", MANAGER_UP, "up", manager_ip, TOKEN_PARAM, key], timeout=120
    )
    assert up.returncode == 0, up.stderr
    published = ssm.get_parameter(Name=TOKEN_PARAM, WithDecryption=True)["Parameter"]["Value"]
    assert published.startswith("SWMTKN-")

    # The worker: Terraform's user-data, Terraform's metadata options and instance profile.
    user_data = render_tftpl(
        TEMPLATE,
        {
            "manager_addr": f"{manager_ip}:2377",
            "join_token_param": TOKEN_PARAM,
            "region": "us-east-1",
            # No EFS stand-in in the box yet: the mount unit's "nothing to mount" path.
            "efs_id": "",
            "efs_mount": "/srv/swarmhub/efs",
            "boot_deadline": "600",
            **NO_CHEF,
        },
    )
    profile = {"Name": _profile(iam, "swarmhub-worker")}
    worker_group(ec2, asg, subnet, "swarmhub-workers", user_data, 0, IamInstanceProfile=profile)
    started = time.monotonic()
    asg.set_desired_capacity(AutoScalingGroupName="swarmhub-workers", DesiredCapacity=1)
    worker_id = group_instance(asg, "swarmhub-workers")

    def ready() -> bool:
        nodes = machine.inside(manager, ["sh", "-ec", NODES], timeout=30)
        return f"{worker_id} ready" in nodes.stdout.splitlines()

    worker_entry = running(worker_id)
    wait("the worker is a Ready node of the manager's swarm", ready, 240)
    to_ready = time.monotonic() - started
    worker = _machine(cli.status()[worker_id], worker_id)
    join = machine.inside(worker, ["systemctl", "is-active", "swarmhub-join.service"])
    assert join.stdout.strip() == "active"
    log = machine.inside(worker, ["journalctl", "-b", "-o", "cat", "-u", "swarmhub-join.service"])
    assert f"swarm-join: joined {manager_ip}:2377 as a worker" in log.stdout, log.stdout
    print(
        f"\nbox: desired capacity 1 -> node Ready {to_ready:.1f} s; "
        f"machine boot (moto running -> multi-user) {worker_entry['boot_seconds']} s"
    )

    asg.set_desired_capacity(AutoScalingGroupName="swarmhub-workers", DesiredCapacity=0)
    wait(
        "the worker's machine stops after scale-in",
        lambda: cli.status().get(worker_id, {}).get("state") == "stopped",
        120,
    )
    assert not machine.alive(worker_entry["pid"])
    ec2.terminate_instances(InstanceIds=[manager_id])
