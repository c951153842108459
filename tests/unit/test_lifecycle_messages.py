"""Parsing the lifecycle messages exactly as AWS sends them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from swarmhub.lifecycle.messages import (
    LAUNCHING,
    TERMINATING,
    LifecycleAction,
    LifecycleEvent,
    TestNotification,
    Unrecognised,
    parse,
)

# A hook whose notification target is the SQS queue: the bare object.
TERMINATE = {
    "Origin": "AutoScalingGroup",
    "Destination": "EC2",
    "Service": "AWS Auto Scaling",
    "Time": "2021-01-19T00:36:26.533Z",
    "AccountId": "123456789012",
    "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
    "RequestId": "18b2ec17-3e9b-4c15-8024-ff2e8ce8786a",
    "LifecycleActionToken": "71514b9d-6a40-4b26-8523-05e7eEXAMPLE",
    "EC2InstanceId": "i-0598c7d356eba48d7",
    "LifecycleHookName": "swarmhub-terminate",
    "AutoScalingGroupName": "swarmhub-workers",
    "NotificationMetadata": "swarmhub",
}

# Sent once when the hook is created.
TEST = {
    "AccountId": "123456789012",
    "RequestId": "3b4e9bc2-4c6b-4c3e-9d7b-1e1b1c1d1e1f",
    "AutoScalingGroupARN": "arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:"
    "042cba90-ad2f-431c-9b4d-6d9055bcc9fb:autoScalingGroupName/swarmhub-workers",
    "AutoScalingGroupName": "swarmhub-workers",
    "Service": "AWS Auto Scaling",
    "Event": "autoscaling:TEST_NOTIFICATION",
    "Time": "2021-01-19T00:35:52.359Z",
}

# The same event through an EventBridge rule (what NTH's queue mode reads).
EVENTBRIDGE_LAUNCH = {
    "version": "0",
    "id": "12345678-1234-1234-1234-123456789012",
    "detail-type": "EC2 Instance-launch Lifecycle Action",
    "source": "aws.autoscaling",
    "account": "123456789012",
    "time": "2021-01-19T00:40:00Z",
    "region": "us-west-2",
    "resources": ["arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:x"],
    "detail": {
        "LifecycleActionToken": "87654321-4321-4321-4321-210987654321",
        "AutoScalingGroupName": "swarmhub-workers",
        "LifecycleHookName": "swarmhub-launch",
        "EC2InstanceId": "i-1234567890abcdef0",
        "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
        "NotificationMetadata": "additional-info",
        "Origin": "EC2",
        "Destination": "AutoScalingGroup",
    },
}


def test_terminate_hook_message():
    event = parse(json.dumps(TERMINATE))
    assert event == LifecycleEvent(
        transition=TERMINATING,
        action=LifecycleAction(
            hook_name="swarmhub-terminate",
            asg_name="swarmhub-workers",
            token="71514b9d-6a40-4b26-8523-05e7eEXAMPLE",
            instance_id="i-0598c7d356eba48d7",
        ),
        time=datetime(2021, 1, 19, 0, 36, 26, 533000, tzinfo=UTC),
        origin="AutoScalingGroup",
        destination="EC2",
        metadata="swarmhub",
        request_id="18b2ec17-3e9b-4c15-8024-ff2e8ce8786a",
    )
    assert event.instance_id == "i-0598c7d356eba48d7"


def test_test_notification():
    assert parse(json.dumps(TEST)) == TestNotification(asg_name="swarmhub-workers")


def test_eventbridge_envelope():
    event = parse(json.dumps(EVENTBRIDGE_LAUNCH))
    assert isinstance(event, LifecycleEvent)
    assert event.transition == LAUNCHING
    assert event.action.hook_name == "swarmhub-launch"
    assert event.time == datetime(2021, 1, 19, 0, 40, tzinfo=UTC)
    assert (event.origin, event.destination) == ("EC2", "AutoScalingGroup")


def test_sns_envelope():
    sns = {"Type": "Notification", "MessageId": "m", "Message": json.dumps(TERMINATE)}
    assert parse(json.dumps(sns)) == parse(json.dumps(TERMINATE))
    sns_test = {"Type": "Notification", "Message": json.dumps(TEST)}
    assert isinstance(parse(json.dumps(sns_test)), TestNotification)


def test_broken_messages_are_unrecognised_not_errors():
    assert isinstance(parse("not json"), Unrecognised)
    assert isinstance(parse("[1, 2]"), Unrecognised)
    assert isinstance(parse(json.dumps({"Type": "Notification", "Message": "{"})), Unrecognised)
    other = dict(TERMINATE, LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCH")
    assert "not a lifecycle transition" in parse(json.dumps(other)).reason
    no_token = {k: v for k, v in TERMINATE.items() if k != "LifecycleActionToken"}
    assert parse(json.dumps(no_token)) == Unrecognised(
        "lifecycle message without LifecycleActionToken"
    )


def test_missing_or_odd_time_is_none():
    no_time = {k: v for k, v in TERMINATE.items() if k != "Time"}
    assert parse(json.dumps(no_time)).time is None
    assert parse(json.dumps(dict(TERMINATE, Time="yesterday"))).time is None
