"""The `aws` node pool: the workers' EC2 Auto Scaling Group.

- desired count: `SetDesiredCapacity` with HonorCooldown=False (the autoscaler
  has its own cooldowns and only ever raises it);
- scale-in protection per instance: `SetInstanceProtection`, so the ASG itself
  (a lowered desired count, AZ rebalancing) never picks a node with users;
- removing a named node: `TerminateInstanceInAutoScalingGroup` with
  ShouldDecrementDesiredCapacity=True, so the ASG does not start a replacement.
  The terminate lifecycle hook then runs the lifecycle handler (drain, wait,
  `docker node rm`, Chef clean-up).

Swarm node <-> instance: every worker's Docker engine carries the engine label
`swarmhub.instance-id=<instance id>`. The join path sets it: the worker's boot
writes it into /etc/docker/daemon.json (`"labels": [...]`, read from the
instance metadata service) before dockerd starts and `swarm-join.sh` runs, so
the label is there from the node's first heartbeat. Engine labels, unlike node
labels, need no manager call and cannot be set by a worker on someone else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from swarmhub.autoscaler.pools.base import PoolNode, PoolNodeState
from swarmhub.errors import SwarmhubError

INSTANCE_LABEL = "swarmhub.instance-id"

_STATES = {
    "Pending": PoolNodeState.PENDING,
    "Pending:Wait": PoolNodeState.PENDING,
    "Pending:Proceed": PoolNodeState.PENDING,
    "InService": PoolNodeState.RUNNING,
    "Terminating": PoolNodeState.TERMINATING,
    "Terminating:Wait": PoolNodeState.TERMINATING,
    "Terminating:Proceed": PoolNodeState.TERMINATING,
    "Terminated": PoolNodeState.TERMINATING,
}


def swarm_ids_from_nodes(nodes: list[Any]) -> dict[str, str]:
    """{instance id: swarm node id} from docker SDK Node objects (`client.nodes.list()`),
    read from each engine's `swarmhub.instance-id` label."""
    out = {}
    for node in nodes:
        attrs = node.attrs if hasattr(node, "attrs") else node
        labels = ((attrs.get("Description") or {}).get("Engine") or {}).get("Labels") or {}
        instance = labels.get(INSTANCE_LABEL)
        if instance:
            out[instance] = attrs["ID"]
    return out


class AsgPool:
    """NodePool over one Auto Scaling Group.

    swarm_ids: returns {instance id: swarm node id} for the joined workers, e.g.
      `lambda: swarm_ids_from_nodes(docker_client.nodes.list())`.
    client: a boto3 `autoscaling` client (made from `region` if not given).
    """

    def __init__(
        self,
        asg_name: str,
        swarm_ids: Callable[[], Mapping[str, str]],
        *,
        client: Any = None,
        region: str | None = None,
    ):
        if client is None:
            import boto3

            client = boto3.client("autoscaling", region_name=region)
        self.asg_name = asg_name
        self._swarm_ids = swarm_ids
        self._asg = client

    def _call(self, what: str, method: str, **kwargs: Any) -> dict:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self._asg, method)(**kwargs)
        except ClientError as exc:
            message = exc.response.get("Error", {}).get("Message", str(exc))
            raise SwarmhubError(f"auto scaling group {self.asg_name}: {what}: {message}") from None
        except BotoCoreError as exc:
            raise SwarmhubError(f"auto scaling group {self.asg_name}: {what}: {exc}") from None

    def _group(self) -> dict:
        groups = self._call(
            "describe",
            "describe_auto_scaling_groups",
            AutoScalingGroupNames=[self.asg_name],
        )["AutoScalingGroups"]
        if not groups:
            raise SwarmhubError(
                f"auto scaling group {self.asg_name} does not exist", hint="run deploy first"
            )
        return groups[0]

    def list_nodes(self) -> list[PoolNode]:
        swarm_ids = self._swarm_ids()
        nodes = []
        for inst in self._group().get("Instances", []):
            state = _STATES.get(inst["LifecycleState"], PoolNodeState.OTHER)
            if inst["LifecycleState"] == "Terminated":
                continue
            nodes.append(
                PoolNode(
                    id=inst["InstanceId"],
                    swarm_id=swarm_ids.get(inst["InstanceId"]),
                    state=state,
                    protected=bool(inst.get("ProtectedFromScaleIn", False)),
                )
            )
        return nodes

    def get_desired(self) -> int:
        return int(self._group()["DesiredCapacity"])

    def set_desired(self, n: int) -> None:
        self._call(
            f"set desired capacity to {n}",
            "set_desired_capacity",
            AutoScalingGroupName=self.asg_name,
            DesiredCapacity=n,
            # Our own cooldowns decide; the ASG's would delay a student's node.
            HonorCooldown=False,
        )

    def _protection(self, node_id: str, value: bool) -> None:
        self._call(
            f"{'protect' if value else 'unprotect'} {node_id}",
            "set_instance_protection",
            AutoScalingGroupName=self.asg_name,
            InstanceIds=[node_id],
            ProtectedFromScaleIn=value,
        )

    def protect(self, node_id: str) -> None:
        self._protection(node_id, True)

    def unprotect(self, node_id: str) -> None:
        self._protection(node_id, False)

    def remove(self, node_id: str) -> None:
        self._call(
            f"terminate {node_id}",
            "terminate_instance_in_auto_scaling_group",
            InstanceId=node_id,
            # Lower the count too, or the ASG would launch a replacement.
            ShouldDecrementDesiredCapacity=True,
        )
