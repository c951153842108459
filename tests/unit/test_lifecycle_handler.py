"""The lifecycle handler's steps with moto's SQS, ASG and EC2 and an in-memory swarm.

moto implements neither CompleteLifecycleAction nor RecordLifecycleActionHeartbeat:
exactly those two methods of the real boto3 client are replaced by mocks whose
calls are asserted. The real swarm is covered by
tests/integration/test_lifecycle_swarm.py.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from swarmhub.config.lifecycle import LifecycleConfig
from swarmhub.lifecycle.aws import AutoScaling, Ec2Instances, SqsQueue
from swarmhub.lifecycle.handler import Handler
from swarmhub.lifecycle.interfaces import SwarmNode

ASG = "swarmhub-workers"
TOKEN = "tok-1"  # a LifecycleActionToken, not a secret
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
T0 = 1_767_268_800.0  # 2026-01-01T12:00:00Z


class Clock:
    """Fake time: sleep advances it; `interrupt_after` sleeps raise (a killed handler)."""

    def __init__(self, interrupt_after: int | None = None):
        self.now = T0
        self.sleeps = 0
        self.interrupt_after = interrupt_after

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        if self.interrupt_after is not None and self.sleeps > self.interrupt_after:
            raise KeyboardInterrupt("handler killed")
        self.now += seconds


class FakeSwarm:
    """The swarm, in memory. Users leave a drained node after `leave_after` checks."""

    def __init__(self, nodes: list[SwarmNode], users: dict[str, list[str]] | None = None):
        self.nodes_by_id = {n.id: n for n in nodes}
        self.users = users or {}
        self.leave_after: int | None = 2
        self.checks_since_drain: dict[str, int] = {}
        self.images: set[str] = set()
        self.removed: list[str] = []
        self.drained: list[str] = []

    def nodes(self):
        return list(self.nodes_by_id.values())

    def find_node(self, instance_id, hostname=None):
        for node in self.nodes_by_id.values():
            if node.instance_id == instance_id:
                return node
        for node in self.nodes_by_id.values():
            if hostname and node.instance_id is None and node.hostname == hostname:
                return node
        return None

    def drain(self, node_id):
        if node_id in self.nodes_by_id:
            self.nodes_by_id[node_id] = replace(self.nodes_by_id[node_id], availability="drain")
            self.drained.append(node_id)
            self.checks_since_drain.setdefault(node_id, 0)

    def user_servers(self, node_id):
        if node_id in self.checks_since_drain and self.leave_after is not None:
            self.checks_since_drain[node_id] += 1
            if self.checks_since_drain[node_id] > self.leave_after:
                self.users[node_id] = []
        return list(self.users.get(node_id, []))

    def remove(self, node_id):
        if self.nodes_by_id.pop(node_id, None) is not None:
            self.removed.append(node_id)

    def image_ready(self, node_id, image):
        return node_id in self.images


class FakeChef:
    def __init__(self, names=()):
        self.nodes = set(names)
        self.clients = set(names)

    def list_nodes(self):
        return sorted(self.nodes)

    def delete_node(self, name):
        found = name in self.nodes
        self.nodes.discard(name)
        return found

    def delete_client(self, name):
        found = name in self.clients
        self.clients.discard(name)
        return found


def node(id_, instance_id, state="ready", availability="active", role="worker", hostname=None):
    return SwarmNode(id_, hostname or f"host-{id_}", instance_id, state, availability, role)


def lifecycle_message(transition, instance_id, *, token=TOKEN, asg=ASG, when=T0):
    """The JSON body EC2 Auto Scaling sends to an SQS notification target."""
    stamp = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    terminating = transition.endswith("TERMINATING")
    return json.dumps(
        {
            "Origin": "AutoScalingGroup" if terminating else "EC2",
            "Destination": "EC2" if terminating else "AutoScalingGroup",
            "Service": "AWS Auto Scaling",
            "Time": stamp,
            "AccountId": "123456789012",
            "LifecycleTransition": transition,
            "RequestId": "18b2ec17-3e9b-4c15-8024-ff2e8ce8786a",
            "LifecycleActionToken": token,
            "EC2InstanceId": instance_id,
            "LifecycleHookName": "swarmhub-hook",
            "AutoScalingGroupName": asg,
            "NotificationMetadata": "",
        }
    )


@pytest.fixture
def aws(monkeypatch):
    """moto's SQS queue, ASG (with two instances) and EC2; the two stubbed calls."""
    for var, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(var, value)
    with mock_aws():
        sqs = boto3.client("sqs")
        url = sqs.create_queue(
            QueueName="swarmhub-lifecycle", Attributes={"VisibilityTimeout": "2"}
        )["QueueUrl"]
        ec2 = boto3.client("ec2")
        asg = boto3.client("autoscaling")
        asg.create_launch_configuration(
            LaunchConfigurationName="workers", ImageId="ami-12c6146b", InstanceType="t3.micro"
        )
        asg.create_auto_scaling_group(
            AutoScalingGroupName=ASG,
            LaunchConfigurationName="workers",
            MinSize=2,
            MaxSize=4,
            DesiredCapacity=2,
            AvailabilityZones=["us-east-1a"],
        )
        ids = [
            i["InstanceId"]
            for i in asg.describe_auto_scaling_groups(AutoScalingGroupNames=[ASG])[
                "AutoScalingGroups"
            ][0]["Instances"]
        ]
        with (
            mock.patch.object(asg, "complete_lifecycle_action", return_value={}) as complete,
            mock.patch.object(asg, "record_lifecycle_action_heartbeat", return_value={}) as beat,
        ):
            yield type(
                "Aws",
                (),
                dict(sqs=sqs, url=url, ec2=ec2, asg=asg, ids=ids, complete=complete, beat=beat),
            )


def make_handler(aws, swarm, clock, *, chef=None, config=None, image=None, ami=None):
    config = config or LifecycleConfig(
        drain_timeout=60,
        heartbeat_interval=10,
        visibility_timeout=30,
        launch_timeout=30,
        poll_interval=5,
        chef_enrollment=chef is not None,
    )
    return Handler(
        config=config,
        asg_name=ASG,
        queue=SqsQueue(aws.sqs, aws.url),
        asg=AutoScaling(aws.asg),
        swarm=swarm,
        instances=Ec2Instances(aws.ec2),
        chef=chef,
        notebook_image=image,
        ami_id=ami,
        clock=clock,
        sleep=clock.sleep,
    )


def queued(aws) -> int:
    attrs = aws.sqs.get_queue_attributes(QueueUrl=aws.url, AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def expected_call(instance_id, result, token=TOKEN):
    return mock.call(
        LifecycleHookName="swarmhub-hook",
        AutoScalingGroupName=ASG,
        LifecycleActionToken=token,
        InstanceId=instance_id,
        LifecycleActionResult=result,
    )


def test_terminate_drains_waits_removes_deregisters_and_continues(aws, caplog):
    victim = aws.ids[0]
    swarm = FakeSwarm([node("n1", victim), node("n2", aws.ids[1])], users={"n1": ["alice"]})
    swarm.leave_after = 3
    chef = FakeChef([victim, aws.ids[1]])
    clock = Clock()
    aws.sqs.send_message(QueueUrl=aws.url, MessageBody=lifecycle_message(TERMINATING, victim))

    with caplog.at_level(logging.INFO, logger="swarmhub.lifecycle"):
        assert make_handler(aws, swarm, clock, chef=chef).process_once(wait_seconds=0) == 1

    assert swarm.drained == ["n1"] and swarm.removed == ["n1"]
    assert set(swarm.nodes_by_id) == {"n2"}
    assert victim not in chef.nodes and victim not in chef.clients
    assert aws.ids[1] in chef.nodes  # the other instance's registration is untouched
    aws.complete.assert_called_once_with(**expected_call(victim, "CONTINUE").kwargs)
    # Three 5 s waits with a 10 s heartbeat interval: one heartbeat, at 10 s.
    aws.beat.assert_called_once_with(
        LifecycleHookName="swarmhub-hook",
        AutoScalingGroupName=ASG,
        LifecycleActionToken=TOKEN,
        InstanceId=victim,
    )
    assert queued(aws) == 0
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "alice" in errors[0] and victim in errors[0]


def test_terminate_twice_and_already_gone_is_fine(aws):
    victim = aws.ids[0]
    swarm = FakeSwarm([node("n2", aws.ids[1])])  # no node for the victim any more
    chef = FakeChef()  # nor a Chef registration
    body = lifecycle_message(TERMINATING, victim)
    aws.sqs.send_message(QueueUrl=aws.url, MessageBody=body)
    aws.sqs.send_message(QueueUrl=aws.url, MessageBody=body)
    # The second CompleteLifecycleAction finds no pending action.
    no_action = ClientError(
        {"Error": {"Code": "ValidationError", "Message": "No active Lifecycle Action found"}},
        "CompleteLifecycleAction",
    )
    aws.complete.side_effect = [{}, no_action]

    handler = make_handler(aws, swarm, Clock(), chef=chef)
    while handler.process_once(wait_seconds=0):
        pass

    assert aws.complete.call_count == 2
    assert swarm.removed == [] and queued(aws) == 0


def test_drain_timeout_removes_the_node_anyway_and_says_who(aws, caplog):
    victim = aws.ids[0]
    swarm = FakeSwarm([node("n1", victim)], users={"n1": ["bob", "carol"]})
    swarm.leave_after = None  # they never leave
    clock = Clock()
    aws.sqs.send_message(QueueUrl=aws.url, MessageBody=lifecycle_message(TERMINATING, victim))

    with caplog.at_level(logging.ERROR, logger="swarmhub.lifecycle"):
        make_handler(aws, swarm, clock).process_once(wait_seconds=0)

    assert swarm.removed == ["n1"]
    assert clock.now - T0 == 60  # the drain_timeout, counted from the event's time
    assert aws.beat.call_count == 5  # at 10, 20, 30, 40 and 50 s
    aws.complete.assert_called_once_with(**expected_call(victim, "CONTINUE").kwargs)
    assert "bob, carol" in caplog.records[-1].getMessage()


def test_launch_continues_once_the_node_is_ready_and_has_the_image(aws):
    newcomer = aws.ids[0]
    swarm = FakeSwarm([])
    clock = Clock()
    aws.sqs.send_message(QueueUrl=aws.url, MessageBody=lifecycle_message(LAUNCHING, newcomer))

    def joins_later(seconds):
        clock.sleep(seconds)
        if clock.now - T0 >= 10:  # joined, ready, image loaded
            swarm.nodes_by_id["n9"] = node("n9", newcomer)
            swarm.images.add("n9")

    handler = make_handler(aws, swarm, clock, image="sha256:notebook")
    handler.sleep = joins_later
    handler.process_once(wait_seconds=0)

    aws.complete.assert_called_once_with(**expected_call(newcomer, "CONTINUE").kwargs)
    assert clock.now - T0 == 10 and queued(aws) == 0


@pytest.mark.parametrize("joined", [False, True])
def test_launch_abandons_a_node_that_never_becomes_usable(aws, joined):
    newcomer = aws.ids[0]
    # Either it never joins, or it joins without the notebook image.
    swarm = FakeSwarm([node("n9", newcomer)] if joined else [])
    aws.sqs.send_message(QueueUrl=aws.url, MessageBody=lifecycle_message(LAUNCHING, newcomer))

    make_handler(aws, swarm, Clock(), image="sha256:notebook").process_once(wait_seconds=0)

    aws.complete.assert_called_once_with(**expected_call(newcomer, "ABANDON").kwargs)
    assert queued(aws) == 0


@pytest.mark.parametrize(
    ("manager_ami", "result"),
    [
        # After a re-bake: the new worker carries newer images than the
        # manager's, so the manager's image probe would fail it forever.
        ("ami-0olderbake", "CONTINUE"),
        # Same bake, and still no image: a broken node.
        ("ami-12c6146b", "ABANDON"),
    ],
)
def test_launch_of_another_bake_is_admitted_once_ready_the_same_bake_must_pass_the_probe(
    aws, manager_ami, result
):
    newcomer = aws.ids[0]  # launched from ami-12c6146b (the group's launch configuration)
    swarm = FakeSwarm([node("n9", newcomer)])  # Ready, without the manager's image
    aws.sqs.send_message(QueueUrl=aws.url, MessageBody=lifecycle_message(LAUNCHING, newcomer))

    handler = make_handler(aws, swarm, Clock(), image="sha256:notebook", ami=manager_ami)
    handler.process_once(wait_seconds=0)

    aws.complete.assert_called_once_with(**expected_call(newcomer, result).kwargs)
    assert queued(aws) == 0


def test_unlabelled_node_is_found_by_its_ec2_host_name(aws):
    victim = aws.ids[0]
    dns = aws.ec2.describe_instances(InstanceIds=[victim])["Reservations"][0]["Instances"][0][
        "PrivateDnsName"
    ]
    swarm = FakeSwarm([node("n1", None, hostname=dns.split(".")[0])])
    aws.sqs.send_message(QueueUrl=aws.url, MessageBody=lifecycle_message(TERMINATING, victim))

    make_handler(aws, swarm, Clock()).process_once(wait_seconds=0)

    assert swarm.removed == ["n1"]


def test_test_notifications_and_other_groups_are_dropped(aws):
    test = {
        "AccountId": "123456789012",
        "RequestId": "r",
        "AutoScalingGroupARN": "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:x",
        "AutoScalingGroupName": ASG,
        "Service": "AWS Auto Scaling",
        "Event": "autoscaling:TEST_NOTIFICATION",
        "Time": "2026-01-01T12:00:00.000Z",
    }
    aws.sqs.send_message(QueueUrl=aws.url, MessageBody=json.dumps(test))
    other = lifecycle_message(TERMINATING, aws.ids[0], asg="someone-elses-group")
    aws.sqs.send_message(QueueUrl=aws.url, MessageBody=other)
    aws.sqs.send_message(QueueUrl=aws.url, MessageBody="garbage")
    swarm = FakeSwarm([node("n1", aws.ids[0])])

    handler = make_handler(aws, swarm, Clock())
    while handler.process_once(wait_seconds=0):
        pass

    aws.complete.assert_not_called()
    assert swarm.drained == [] and queued(aws) == 0


def test_a_killed_handler_leaves_the_message_and_the_next_one_finishes(aws):
    victim = aws.ids[0]
    swarm = FakeSwarm([node("n1", victim)], users={"n1": ["alice"]})
    swarm.leave_after = 4
    chef = FakeChef([victim])
    config = LifecycleConfig(
        drain_timeout=600,
        heartbeat_interval=1,
        visibility_timeout=2,
        poll_interval=5,
        chef_enrollment=True,
    )
    aws.sqs.send_message(QueueUrl=aws.url, MessageBody=lifecycle_message(TERMINATING, victim))

    # Killed in the middle of waiting for the drain.
    first = make_handler(aws, swarm, Clock(interrupt_after=2), chef=chef, config=config)
    with pytest.raises(KeyboardInterrupt):
        first.process_once(wait_seconds=0)
    assert swarm.drained == ["n1"] and swarm.removed == []
    aws.complete.assert_not_called()
    assert queued(aws) == 1  # not deleted: invisible until its visibility runs out

    time.sleep(2.5)
    second = make_handler(aws, swarm, Clock(), chef=chef, config=config)
    assert second.process_once(wait_seconds=1) == 1

    assert swarm.removed == ["n1"] and victim not in chef.nodes
    aws.complete.assert_called_once_with(**expected_call(victim, "CONTINUE").kwargs)
    assert queued(aws) == 0


def test_reconcile_removes_what_belongs_to_gone_instances_only(aws):
    gone, alive = aws.ids
    aws.ec2.terminate_instances(InstanceIds=[gone])
    swarm = FakeSwarm(
        [
            node("n-gone", gone, state="down"),
            node("n-alive-down", alive, state="down"),  # may come back: kept
            node("n-never", "i-00000000000000000", state="down"),  # unknown to EC2: gone
            node("m-gone", gone, state="down", role="manager"),  # never a manager
            node("n-unlabelled", None, state="down"),  # cannot prove anything: kept
        ]
    )
    chef = FakeChef([gone, alive, "i-00000000000000000", "chef-server"])

    make_handler(aws, swarm, Clock(), chef=chef).reconcile()

    assert sorted(swarm.removed) == ["n-gone", "n-never"]
    assert chef.nodes == {alive, "chef-server"} and chef.clients == {alive, "chef-server"}


def test_reconcile_does_nothing_when_ec2_cannot_see_the_swarm(aws, caplog):
    # A Ready node whose instance EC2 does not know: wrong region or account.
    swarm = FakeSwarm(
        [node("n1", "i-0fffffffffffffff0"), node("n-down", "i-0eeeeeeeeeeeeeee0", state="down")]
    )
    chef = FakeChef(["i-0eeeeeeeeeeeeeee0"])

    with caplog.at_level(logging.ERROR, logger="swarmhub.lifecycle"):
        make_handler(aws, swarm, Clock(), chef=chef).reconcile()

    assert swarm.removed == [] and chef.nodes == {"i-0eeeeeeeeeeeeeee0"}
    assert "wrong region or account" in caplog.text


def test_serve_reconciles_handles_in_parallel_and_stops(aws):
    gone, alive = aws.ids
    aws.ec2.terminate_instances(InstanceIds=[gone])
    swarm = FakeSwarm([node("n-gone", gone, state="down"), node("n1", alive)])
    aws.sqs.send_message(QueueUrl=aws.url, MessageBody=lifecycle_message(TERMINATING, alive))
    handler = make_handler(aws, swarm, Clock())
    stop = threading.Event()
    thread = threading.Thread(target=handler.serve, args=(stop,), kwargs={"wait_seconds": 1})
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not aws.complete.called and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert sorted(swarm.removed) == ["n-gone", "n1"]
    aws.complete.assert_called_once_with(**expected_call(alive, "CONTINUE").kwargs)


def test_a_node_already_down_is_removed_without_waiting(aws):
    victim = aws.ids[0]
    swarm = FakeSwarm([node("n1", victim, state="down")], users={"n1": ["dave"]})
    swarm.leave_after = None  # its tasks stay "running" in the books
    clock = Clock()
    aws.sqs.send_message(QueueUrl=aws.url, MessageBody=lifecycle_message(TERMINATING, victim))

    make_handler(aws, swarm, clock).process_once(wait_seconds=0)

    assert swarm.removed == ["n1"] and clock.now == T0
    aws.complete.assert_called_once_with(**expected_call(victim, "CONTINUE").kwargs)


def test_heartbeat_must_be_shorter_than_visibility():
    with pytest.raises(ValueError, match="visibility_timeout"):
        LifecycleConfig(heartbeat_interval=60, visibility_timeout=60)


def test_docker_swarm_reads_engine_api_objects():
    """swarm.py's reading of Engine API objects, on canned answers (the real
    engine is in tests/integration/test_lifecycle_swarm.py)."""
    from swarmhub.lifecycle.swarm import DockerSwarm

    api = mock.Mock()
    api.nodes.return_value = [
        {
            "ID": "n1",
            "Version": {"Index": 7},
            "Spec": {"Role": "worker", "Availability": "active", "Labels": {}},
            "Description": {
                "Hostname": "ip-10-0-1-5",
                "Engine": {"Labels": {"swarmhub.instance-id": "i-0598c7d356eba48d7"}},
            },
            "Status": {"State": "ready"},
        }
    ]
    api.inspect_node.return_value = api.nodes.return_value[0]
    api.services.return_value = [
        {"ID": "s1", "Spec": {"Name": "jupyter-alice", "Labels": {"swarmhub.user": "alice"}}},
        {"ID": "s2", "Spec": {"Name": "jupyter-bob", "Labels": {}}},
    ]
    api.tasks.return_value = [
        {"ServiceID": "s1", "Status": {"State": "running"}},
        {"ServiceID": "s2", "Status": {"State": "starting"}},
        {"ServiceID": "s2", "Status": {"State": "shutdown"}},
        {"ServiceID": "other", "Status": {"State": "running"}},
    ]
    swarm = DockerSwarm(mock.Mock(api=api))

    found = swarm.find_node("i-0598c7d356eba48d7")
    assert found == SwarmNode(
        "n1", "ip-10-0-1-5", "i-0598c7d356eba48d7", "ready", "active", "worker"
    )
    assert swarm.user_servers("n1") == ["alice", "jupyter-bob"]
    # The swarm filters: this node's user-server tasks, then only their services.
    api.tasks.assert_called_with(filters={"label": "swarmhub.user-server=true", "node": "n1"})
    api.services.assert_called_with(
        filters={"label": "swarmhub.user-server=true", "id": ["other", "s1", "s2"]}
    )

    swarm.drain("n1")
    api.update_node.assert_called_once_with(
        "n1", 7, {"Role": "worker", "Availability": "drain", "Labels": {}}
    )
