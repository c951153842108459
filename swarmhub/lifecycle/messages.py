"""Parse the messages EC2 Auto Scaling puts on the lifecycle queue. Pure.

Three envelopes reach an SQS queue, all carrying the same fields:

- a lifecycle hook whose notification target is the queue sends the bare JSON
  object (Origin, Destination, LifecycleTransition, LifecycleHookName,
  LifecycleActionToken, AutoScalingGroupName, EC2InstanceId,
  NotificationMetadata, Time, AccountId, RequestId, Service); when the hook is
  created it also sends a test message with `Event: autoscaling:TEST_NOTIFICATION`;
- an EventBridge rule targeting the queue wraps them in `detail`
  (`detail-type: EC2 Instance-launch Lifecycle Action`, ...), as
  aws-node-termination-handler's queue mode reads them;
- an SNS topic subscribed by the queue wraps either in `Message` (a string).

Anything else is `Unrecognised`, never an exception: one bad message must not
stop the handler.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
TEST_NOTIFICATION = "autoscaling:TEST_NOTIFICATION"

_REQUIRED = (
    "LifecycleHookName",
    "AutoScalingGroupName",
    "LifecycleActionToken",
    "EC2InstanceId",
)


@dataclass(frozen=True)
class LifecycleAction:
    """What CompleteLifecycleAction and RecordLifecycleActionHeartbeat need."""

    hook_name: str
    asg_name: str
    token: str
    instance_id: str


@dataclass(frozen=True)
class LifecycleEvent:
    """An instance waiting in Pending:Wait (launch) or Terminating:Wait (terminate)."""

    transition: str
    action: LifecycleAction
    time: datetime | None = None
    origin: str | None = None
    destination: str | None = None
    metadata: str | None = None
    request_id: str | None = None

    @property
    def instance_id(self) -> str:
        return self.action.instance_id

    @property
    def asg_name(self) -> str:
        return self.action.asg_name


@dataclass(frozen=True)
class TestNotification:
    """Sent once when a hook's notification target is set; nothing to do."""

    __test__ = False  # not a pytest test class, despite its name

    asg_name: str | None


@dataclass(frozen=True)
class Unrecognised:
    """Not a lifecycle message (or a broken one); `reason` says why."""

    reason: str


Message = LifecycleEvent | TestNotification | Unrecognised


def parse_time(value: object) -> datetime | None:
    """'2021-01-19T00:36:26.533Z' -> an aware datetime; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _unwrap(data: dict) -> tuple[dict, object]:
    """The lifecycle fields and the time, out of whichever envelope carries them."""
    # SNS: the notification is a JSON string in Message.
    if data.get("Type") == "Notification" and isinstance(data.get("Message"), str):
        try:
            inner = json.loads(data["Message"])
        except ValueError:
            return {}, None
        if isinstance(inner, dict):
            return _unwrap(inner)
        return {}, None
    # EventBridge: the fields are in detail, the time is the envelope's.
    if data.get("source") == "aws.autoscaling" and isinstance(data.get("detail"), dict):
        detail = data["detail"]
        return detail, detail.get("Time") or data.get("time")
    return data, data.get("Time")


def parse(body: str) -> Message:
    """One SQS message body -> what it asks for."""
    try:
        data = json.loads(body)
    except ValueError:
        return Unrecognised("not JSON")
    if not isinstance(data, dict):
        return Unrecognised("not a JSON object")
    fields, when = _unwrap(data)
    if not fields:
        return Unrecognised("an SNS envelope without a readable message")

    if TEST_NOTIFICATION in (fields.get("Event"), fields.get("LifecycleTransition")):
        return TestNotification(asg_name=fields.get("AutoScalingGroupName"))

    transition = fields.get("LifecycleTransition")
    if transition not in (LAUNCHING, TERMINATING):
        return Unrecognised(f"not a lifecycle transition: {transition!r}")
    missing = [k for k in _REQUIRED if not isinstance(fields.get(k), str) or not fields[k]]
    if missing:
        return Unrecognised(f"lifecycle message without {', '.join(missing)}")
    return LifecycleEvent(
        transition=transition,
        action=LifecycleAction(
            hook_name=fields["LifecycleHookName"],
            asg_name=fields["AutoScalingGroupName"],
            token=fields["LifecycleActionToken"],
            instance_id=fields["EC2InstanceId"],
        ),
        time=parse_time(when),
        origin=fields.get("Origin"),
        destination=fields.get("Destination"),
        metadata=fields.get("NotificationMetadata"),
        request_id=fields.get("RequestId"),
    )
