"""The lifecycle handler's two Auto Scaling calls against an endpoint that
does not answer them: moto 5's server, which lacks CompleteLifecycleAction and
RecordLifecycleActionHeartbeat (HTTP 500, which botocore cannot parse: a
BotoCoreError, not a ClientError). A heartbeat without an answer must not end
a drain or a join before its own deadline; a completion without one must say
which call, which instance and which endpoint, in one line.
"""

from __future__ import annotations

import logging
import socket

import boto3
import pytest
from botocore.config import Config

from swarmhub.lifecycle.aws import AutoScaling, Unanswered
from swarmhub.lifecycle.messages import LifecycleAction

ACTION = LifecycleAction(
    hook_name="swarmhub-workers-launch",
    asg_name="swarmhub-workers",
    token="0b1e2c3d-4f5a-6b7c-8d9e-0f1a2b3c4d5e",
    instance_id="i-0abc",
)


@pytest.fixture(scope="module")
def moto_autoscaling():
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield boto3.client(
            "autoscaling",
            region_name="eu-west-1",
            endpoint_url=f"http://127.0.0.1:{port}",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}),
        )
    finally:
        server.stop()


def test_a_heartbeat_nobody_answers_is_a_warning_and_the_wait_goes_on(moto_autoscaling, caplog):
    with caplog.at_level(logging.WARNING, logger="swarmhub.lifecycle"):
        assert AutoScaling(moto_autoscaling).heartbeat(ACTION) is True
    assert "heartbeat for i-0abc got no answer from http://127.0.0.1:" in caplog.text


def test_a_completion_nobody_answers_is_one_clear_error(moto_autoscaling):
    with pytest.raises(Unanswered) as unanswered:
        AutoScaling(moto_autoscaling).complete(ACTION, "CONTINUE")
    line = str(unanswered.value)
    assert "\n" not in line
    assert line.startswith("CompleteLifecycleAction (CONTINUE) of i-0abc got no answer from ")
    assert "heartbeat timeout" in line
