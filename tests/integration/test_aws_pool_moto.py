"""The ASG node pool against moto: the calls leave the ASG as the plan says."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from swarmhub.autoscaler.apply import apply
from swarmhub.autoscaler.model import Plan
from swarmhub.autoscaler.pools.aws import AsgPool, swarm_ids_from_nodes
from swarmhub.autoscaler.pools.base import NodePool, PoolNodeState
from swarmhub.errors import SwarmhubError
from tests.unit.test_apply import FakeSwarm

REGION = "eu-central-1"
ASG = "swarmhub-workers"


@pytest.fixture
def aws(monkeypatch):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(var, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        ec2.create_launch_template(
            LaunchTemplateName="worker",
            LaunchTemplateData={"ImageId": image, "InstanceType": "t3.large"},
        )
        asg = boto3.client("autoscaling", region_name=REGION)
        asg.create_auto_scaling_group(
            AutoScalingGroupName=ASG,
            LaunchTemplate={"LaunchTemplateName": "worker", "Version": "$Latest"},
            MinSize=0,
            MaxSize=10,
            DesiredCapacity=2,
            VPCZoneIdentifier=subnet,
        )
        yield asg, ec2


def group(asg) -> dict:
    return asg.describe_auto_scaling_groups(AutoScalingGroupNames=[ASG])["AutoScalingGroups"][0]


def instance_ids(asg) -> list[str]:
    return sorted(i["InstanceId"] for i in group(asg)["Instances"])


def pool_with_swarm_ids(asg, mapping=None) -> AsgPool:
    """A pool whose swarm ids are 'swarm-<instance id>' for every instance (or `mapping`)."""

    def swarm_ids():
        if mapping is not None:
            return mapping
        return {i: f"swarm-{i}" for i in instance_ids(asg)}

    return AsgPool(ASG, swarm_ids, client=asg)


def test_lists_instances_with_swarm_ids(aws):
    asg, _ = aws
    ids = instance_ids(asg)
    pool = pool_with_swarm_ids(asg, {ids[0]: "node-1"})
    assert isinstance(pool, NodePool)
    nodes = {n.id: n for n in pool.list_nodes()}
    assert set(nodes) == set(ids)
    assert nodes[ids[0]].swarm_id == "node-1"
    assert nodes[ids[1]].swarm_id is None  # not joined yet
    assert all(n.state == PoolNodeState.RUNNING and not n.protected for n in nodes.values())
    assert pool.get_desired() == 2


def test_set_desired(aws):
    asg, _ = aws
    pool = pool_with_swarm_ids(asg)
    pool.set_desired(4)
    assert group(asg)["DesiredCapacity"] == 4
    assert len(instance_ids(asg)) == 4


def test_protect_and_unprotect(aws):
    asg, _ = aws
    a, b = instance_ids(asg)
    pool = pool_with_swarm_ids(asg)
    pool.protect(a)
    flags = {i["InstanceId"]: i["ProtectedFromScaleIn"] for i in group(asg)["Instances"]}
    assert flags == {a: True, b: False}
    pool.unprotect(a)
    flags = {i["InstanceId"]: i["ProtectedFromScaleIn"] for i in group(asg)["Instances"]}
    assert flags == {a: False, b: False}


def test_remove_terminates_that_instance_and_decrements(aws):
    asg, ec2 = aws
    a, b = instance_ids(asg)
    pool = pool_with_swarm_ids(asg)
    pool.remove(b)
    assert group(asg)["DesiredCapacity"] == 1
    assert instance_ids(asg) == [a]  # no replacement launched
    state = ec2.describe_instances(InstanceIds=[b])["Reservations"][0]["Instances"][0]["State"]
    assert state["Name"] in ("shutting-down", "terminated")


def test_apply_plan_end_to_end(aws):
    """A plan protecting one node and draining the other, then a scale-out."""
    asg, ec2 = aws
    a, b = instance_ids(asg)
    pool = pool_with_swarm_ids(asg)
    swarm = FakeSwarm({f"swarm-{a}": ["alice"]})
    plan = Plan(desired=1, protect=frozenset({f"swarm-{a}"}), drain=(f"swarm-{b}",))
    done = apply(plan, pool, swarm)
    assert done.removed == [f"swarm-{b}"]
    g = group(asg)
    assert g["DesiredCapacity"] == 1
    assert [(i["InstanceId"], i["ProtectedFromScaleIn"]) for i in g["Instances"]] == [(a, True)]
    assert swarm.evicted == []

    apply(Plan(desired=3, protect=frozenset({f"swarm-{a}"})), pool, swarm)
    g = group(asg)
    assert g["DesiredCapacity"] == 3
    assert len(g["Instances"]) == 3
    # Only the node with a user is protected; new instances are not.
    assert sorted(i["ProtectedFromScaleIn"] for i in g["Instances"]) == [False, False, True]


def test_apply_keeps_a_node_with_a_user(aws):
    asg, _ = aws
    a, b = instance_ids(asg)
    pool = pool_with_swarm_ids(asg)
    swarm = FakeSwarm({f"swarm-{b}": ["bob"]})
    done = apply(Plan(desired=1, drain=(f"swarm-{b}",)), pool, swarm)
    assert done.removed == []
    assert instance_ids(asg) == sorted([a, b])
    assert group(asg)["DesiredCapacity"] == 2


def test_missing_group_is_one_clear_error(aws):
    asg, _ = aws
    pool = AsgPool("nope", dict, client=asg)
    with pytest.raises(SwarmhubError, match="auto scaling group nope does not exist"):
        pool.list_nodes()


def test_aws_refusal_is_a_swarmhub_error():
    # moto does not enforce MaxSize, so the refusal AWS gives is stubbed.
    client = boto3.client("autoscaling", region_name=REGION)
    pool = AsgPool(ASG, dict, client=client)
    with Stubber(client) as stub:
        stub.add_client_error(
            "set_desired_capacity",
            service_error_code="ValidationError",
            service_message="New SetDesiredCapacity value 50 is above max value 10",
        )
        with pytest.raises(SwarmhubError) as err:
            pool.set_desired(50)
    assert str(err.value) == (
        f"auto scaling group {ASG}: set desired capacity to 50: "
        "New SetDesiredCapacity value 50 is above max value 10"
    )


def test_swarm_ids_from_engine_labels():
    nodes = [
        {"ID": "n1", "Description": {"Engine": {"Labels": {"swarmhub.instance-id": "i-1"}}}},
        {"ID": "n2", "Description": {"Engine": {"Labels": {}}}},  # the manager, say
        {"ID": "n3", "Description": {}},
    ]
    assert swarm_ids_from_nodes(nodes) == {"i-1": "n1"}
