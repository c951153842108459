"""The box's metadata service, over HTTP on 127.0.0.1 (no machines, no root).

What cloud-init and the worker's scripts rely on: IMDSv2 only, a token per
PUT with a TTL, each caller answered about its own instance, user-data byte
for byte, and the role's credentials; plus EC2's user-data limit.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

import pytest

from box import controller, imds

USER_DATA = b"#!/bin/sh\necho hello > /run/marker\n"


@pytest.fixture
def service():
    svc = imds.Service(host="127.0.0.1", port=0)
    svc.start()
    svc.put(
        imds.Instance(
            instance_id="i-0abc",
            private_ip="127.0.0.1",
            user_data=USER_DATA,
            role="swarmhub-worker",
            hop_limit=2,
        )
    )
    yield f"http://127.0.0.1:{svc.server.server_address[1]}", svc
    svc.stop()


def _call(url, method="GET", headers=None):
    request = urllib.request.Request(url, method=method, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:  # noqa: S310
            return reply.status, reply.read(), reply.headers
    except urllib.error.HTTPError as err:
        return err.code, err.read(), err.headers


def _token(base, ttl="60"):
    code, body, headers = _call(
        base + "/latest/api/token", "PUT", {"X-aws-ec2-metadata-token-ttl-seconds": ttl}
    )
    return code, body.decode(), headers


def test_v2_only_a_get_without_a_token_is_refused(service):
    base, _ = service
    assert _call(base + "/latest/meta-data/instance-id")[0] == 401
    bad = {"X-aws-ec2-metadata-token": "not-a-token"}
    assert _call(base + "/latest/meta-data/instance-id", headers=bad)[0] == 401


def test_a_token_opens_the_instances_own_metadata_and_user_data(service):
    base, _ = service
    code, token, headers = _token(base)
    assert code == 200 and headers["X-aws-ec2-metadata-token-ttl-seconds"] == "60"
    auth = {"X-aws-ec2-metadata-token": token}
    assert _call(base + "/latest/meta-data/instance-id", headers=auth)[1] == b"i-0abc"
    assert _call(base + "/latest/meta-data/local-ipv4", headers=auth)[1] == b"127.0.0.1"
    assert _call(base + "/latest/user-data", headers=auth)[1] == USER_DATA
    creds = base + "/latest/meta-data/iam/security-credentials/"
    assert _call(creds, headers=auth)[1] == b"swarmhub-worker"
    body = json.loads(_call(creds + "swarmhub-worker", headers=auth)[1])
    assert body["Code"] == "Success" and body["AccessKeyId"] and body["Token"]
    doc = json.loads(_call(base + "/latest/dynamic/instance-identity/document", headers=auth)[1])
    assert doc["instanceId"] == "i-0abc" and doc["region"] == "us-east-1"


@pytest.mark.parametrize("ttl", ["", "0", "21601", "abc"])
def test_a_token_request_with_a_bad_ttl_is_refused(service, ttl):
    base, _ = service
    assert _token(base, ttl)[0] == 400


def test_a_forwarded_token_request_is_refused(service):
    base, _ = service
    headers = {"X-aws-ec2-metadata-token-ttl-seconds": "60", "X-Forwarded-For": "10.0.0.9"}
    assert _call(base + "/latest/api/token", "PUT", headers)[0] == 403


def test_an_address_that_is_no_instance_gets_nothing(service):
    base, svc = service
    svc.drop("127.0.0.1")
    assert _token(base)[0] == 404


def test_the_token_reply_carries_the_hop_limit_as_its_ttl(service, monkeypatch):
    base, svc = service
    seen = []
    real = socket.socket.setsockopt

    def spy(self, level, option, value):
        if (level, option) == (socket.IPPROTO_IP, socket.IP_TTL):
            seen.append(value)
        return real(self, level, option, value)

    monkeypatch.setattr(socket.socket, "setsockopt", spy)
    assert _token(base)[0] == 200
    assert seen == [2]


def test_user_data_over_ec2s_limit_is_refused_and_at_the_limit_is_not():
    assert controller.refusal(b"x" * 16384) == ""
    assert "16385 bytes" in controller.refusal(b"x" * 16385)
