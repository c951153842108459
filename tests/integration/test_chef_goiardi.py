"""The Chef client and the handler's terminate flow against a real goiardi."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from swarmhub.errors import SwarmhubError
from swarmhub.lifecycle.chef import ChefClient, load_key
from tests.integration.conftest_goiardi import goiardi  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration


@pytest.fixture
def chef(goiardi):  # noqa: F811
    return ChefClient(goiardi.url, goiardi.admin_name, load_key(goiardi.admin_key))


def test_create_get_delete_node_and_client(chef):
    assert chef.get_node("i-0123456789abcdef0") is None
    chef.create_node("i-0123456789abcdef0", run_list=["recipe[swarmhub::worker]"])
    created = chef.create_client("i-0123456789abcdef0")
    assert "BEGIN" in (created.get("private_key") or created["chef_key"]["private_key"])
    assert chef.get_node("i-0123456789abcdef0")["run_list"] == ["recipe[swarmhub::worker]"]
    assert chef.get_client("i-0123456789abcdef0")["name"] == "i-0123456789abcdef0"
    assert "i-0123456789abcdef0" in chef.list_nodes()

    assert chef.delete_node("i-0123456789abcdef0") is True
    assert chef.delete_client("i-0123456789abcdef0") is True
    assert chef.get_node("i-0123456789abcdef0") is None
    assert chef.get_client("i-0123456789abcdef0") is None
    # Deleting again is fine: a redelivered message must not fail.
    assert chef.delete_node("i-0123456789abcdef0") is False
    assert chef.delete_client("i-0123456789abcdef0") is False


def test_a_wrong_key_is_one_clear_error(goiardi):  # noqa: F811
    wrong = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    chef = ChefClient(goiardi.url, "admin", wrong)
    with pytest.raises(SwarmhubError) as err:
        chef.get_node("anything")
    assert str(err.value) == (
        f"Chef Server at {goiardi.url} rejected the request signature for client 'admin': "
        "check the key"
    )


class _Queue:
    def __init__(self):
        self.deleted = []

    def extend(self, receipt, seconds):
        pass

    def delete(self, receipt):
        self.deleted.append(receipt)


class _Asg:
    def __init__(self):
        self.completed = []

    def complete(self, action, result):
        self.completed.append((action.instance_id, result))
        return True

    def heartbeat(self, action):
        return True


class _NoSwarm:
    """The instance's swarm node is already gone: only the Chef side is left."""

    def find_node(self, instance_id, hostname=None):
        return None


class _NoEc2:
    def hostname(self, instance_id):
        return None


def test_terminate_flow_deletes_the_node_and_client(chef):
    from swarmhub.config.lifecycle import LifecycleConfig
    from swarmhub.lifecycle.handler import Handler
    from swarmhub.lifecycle.interfaces import Received

    instance = "i-0598c7d356eba48d7"
    chef.create_node(instance)
    chef.create_client(instance)
    body = json.dumps(
        {
            "Origin": "AutoScalingGroup",
            "Destination": "EC2",
            "Service": "AWS Auto Scaling",
            "Time": "2026-01-01T12:00:00.000Z",
            "AccountId": "123456789012",
            "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
            "RequestId": "r",
            "LifecycleActionToken": "tok",
            "EC2InstanceId": instance,
            "LifecycleHookName": "swarmhub-terminate",
            "AutoScalingGroupName": "swarmhub-workers",
        }
    )
    queue, asg = _Queue(), _Asg()
    handler = Handler(
        config=LifecycleConfig(chef_enrollment=True),
        asg_name="swarmhub-workers",
        queue=queue,
        asg=asg,
        swarm=_NoSwarm(),
        instances=_NoEc2(),
        chef=chef,
    )

    handler.handle(Received(message_id="m1", receipt="r1", body=body))

    assert chef.get_node(instance) is None and chef.get_client(instance) is None
    assert asg.completed == [(instance, "CONTINUE")] and queue.deleted == ["r1"]
