"""The AWS side of the lifecycle handler: the SQS queue, the ASG's lifecycle
actions and EC2's view of which instances still exist. Thin boto3 wrappers;
the decisions are in handler.py.

IAM the handler needs: sqs:ReceiveMessage, sqs:DeleteMessage,
sqs:ChangeMessageVisibility on the queue; autoscaling:CompleteLifecycleAction
and autoscaling:RecordLifecycleActionHeartbeat on the group;
ec2:DescribeInstances.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from swarmhub.lifecycle.interfaces import Received
from swarmhub.lifecycle.messages import LifecycleAction

log = logging.getLogger("swarmhub.lifecycle")

# Instances in these states are gone for the swarm and the Chef Server.
_GONE_STATES = frozenset({"shutting-down", "terminated"})
# No AWS answer at all: a network failure, or a body that is not one (an
# endpoint's HTTP 500 page: moto's for the calls it lacks).
_UNANSWERED = (BotoCoreError, ResponseParserError)

# DescribeInstances takes at most 200 values per filter.
_FILTER_CHUNK = 200


class Unanswered(RuntimeError):
    """An Auto Scaling call that got no AWS answer at all (a network failure, or
    an endpoint that does not implement it: moto 5 lacks CompleteLifecycleAction
    and RecordLifecycleActionHeartbeat). The message comes back; on AWS the
    lifecycle action ends at the hook's own timeout."""


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


class SqsQueue:
    """The lifecycle queue."""

    def __init__(self, client, url: str):
        self._sqs = client
        self.url = url

    def receive(self, *, wait_seconds: int, visibility: int, limit: int = 10) -> list[Received]:
        answer = self._sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=limit,
            WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=visibility,
            AttributeNames=["ApproximateReceiveCount"],
        )
        return [
            Received(
                message_id=m["MessageId"],
                receipt=m["ReceiptHandle"],
                body=m["Body"],
                receive_count=int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
            )
            for m in answer.get("Messages", [])
        ]

    def extend(self, receipt: str, seconds: int) -> None:
        """Keep a message invisible while it is worked on."""
        try:
            self._sqs.change_message_visibility(
                QueueUrl=self.url, ReceiptHandle=receipt, VisibilityTimeout=seconds
            )
        except ClientError as exc:
            # Gone or re-received elsewhere: the work goes on, the delete will tell.
            log.warning("could not extend a message's visibility: %s", exc)

    def delete(self, receipt: str) -> None:
        try:
            self._sqs.delete_message(QueueUrl=self.url, ReceiptHandle=receipt)
        except ClientError as exc:
            if _code(exc) != "ReceiptHandleIsInvalid":
                raise
            # Its visibility ran out and someone received it again: they will
            # redo the (idempotent) work and delete it.
            log.warning("message already re-received, not deleted: %s", exc)


class AutoScaling:
    """CompleteLifecycleAction and RecordLifecycleActionHeartbeat for one group."""

    def __init__(self, client):
        self._asg = client

    @staticmethod
    def _params(action: LifecycleAction) -> dict[str, str]:
        return {
            "LifecycleHookName": action.hook_name,
            "AutoScalingGroupName": action.asg_name,
            "LifecycleActionToken": action.token,
            "InstanceId": action.instance_id,
        }

    def complete(self, action: LifecycleAction, result: str) -> bool:
        """CONTINUE or ABANDON. False when the action is no longer pending (already
        completed, or timed out): for a message seen twice that is success."""
        try:
            self._asg.complete_lifecycle_action(
                **self._params(action), LifecycleActionResult=result
            )
        except ClientError as exc:
            if _code(exc) == "ValidationError":
                log.info("lifecycle action of %s is no longer pending: %s", action.instance_id, exc)
                return False
            raise
        except _UNANSWERED as exc:
            raise Unanswered(
                f"CompleteLifecycleAction ({result}) of {action.instance_id} got no answer from "
                f"{self._asg.meta.endpoint_url}: {' '.join(str(exc).split())}; the instance "
                "waits in the hook until its heartbeat timeout"
            ) from exc
        return True

    def heartbeat(self, action: LifecycleAction) -> bool:
        """False when the action is no longer pending: stop sending them."""
        try:
            self._asg.record_lifecycle_action_heartbeat(**self._params(action))
        except ClientError as exc:
            if _code(exc) == "ValidationError":
                log.warning("no heartbeat for %s: %s", action.instance_id, exc)
                return False
            # A throttled or failed heartbeat is not fatal: the next one may pass.
            log.warning("heartbeat for %s failed: %s", action.instance_id, exc)
        except _UNANSWERED as exc:
            # No answer at all (network, or an endpoint without the call): the
            # drain or join goes on to its own deadline, never cut short here.
            log.warning(
                "heartbeat for %s got no answer from %s: %s",
                action.instance_id,
                self._asg.meta.endpoint_url,
                exc,
            )
        return True


class Ec2Instances:
    """Which instances still exist, and their host names."""

    def __init__(self, client):
        self._ec2 = client

    def _describe(self, ids: list[str]) -> dict[str, dict]:
        found: dict[str, dict] = {}
        paginator = self._ec2.get_paginator("describe_instances")
        for start in range(0, len(ids), _FILTER_CHUNK):
            # A filter, not InstanceIds: an unknown id is then simply absent
            # instead of failing the whole call with InvalidInstanceID.NotFound.
            chunk = ids[start : start + _FILTER_CHUNK]
            pages = paginator.paginate(Filters=[{"Name": "instance-id", "Values": chunk}])
            for page in pages:
                for reservation in page.get("Reservations", []):
                    for instance in reservation.get("Instances", []):
                        found[instance["InstanceId"]] = instance
        return found

    def gone(self, ids: Iterable[str]) -> set[str]:
        """The ids that are missing, shutting down or terminated."""
        ids = sorted(set(ids))
        if not ids:
            return set()
        found = self._describe(ids)
        return {
            i
            for i in ids
            if i not in found or found[i].get("State", {}).get("Name") in _GONE_STATES
        }

    def hostname(self, instance_id: str) -> str | None:
        """The private DNS name's first label (what dockerd reports as its hostname)."""
        instance = self._describe([instance_id]).get(instance_id)
        name = (instance or {}).get("PrivateDnsName") or ""
        return name.split(".")[0] or None

    def image_id(self, instance_id: str) -> str | None:
        """The AMI the instance was launched from (None if it is unknown)."""
        instance = self._describe([instance_id]).get(instance_id)
        return (instance or {}).get("ImageId") or None
