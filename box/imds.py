"""The box's instance metadata service at 169.254.169.254, one for every machine.

It answers each machine by the address the request comes from, as EC2's does,
with what moto knows of that instance: instance id, private address, the
launch template's user-data, and credentials for the role of its instance
profile. Like an instance launched with `http_tokens = "required"` it speaks
IMDSv2 only (a PUT for a token, then the token on every GET), and it sends
the token's reply with the IP TTL set to the instance's hop limit, so a
container one hop further does not get a token, as on EC2.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ADDRESS = "169.254.169.254"
TOKEN_TTL_MAX = 21600


@dataclass
class Instance:
    """What the metadata service tells one machine about itself."""

    instance_id: str
    private_ip: str
    user_data: bytes = b""
    role: str = ""
    hop_limit: int = 1
    instance_type: str = "t3.medium"
    availability_zone: str = "us-east-1a"
    ami_id: str = "ami-box"
    mac: str = "02:00:00:00:00:01"
    tokens: dict[str, float] = field(default_factory=dict)


def _iso(at: datetime) -> str:
    return at.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def role_credentials(now: datetime | None = None) -> dict:
    """Credentials as IMDS hands them out; moto accepts any key."""
    now = now or datetime.now(UTC)
    return {
        "Code": "Success",
        "LastUpdated": _iso(now),
        "Type": "AWS-HMAC",
        "AccessKeyId": "ASIABOXFAKEKEY000000",
        "SecretAccessKey": "box-fake-secret-key",
        "Token": "box-fake-session-token",
        "Expiration": _iso(now + timedelta(hours=6)),
    }


def tree(instance: Instance) -> dict:
    """The instance's metadata as IMDS's tree: a dict is a folder, a str a value."""
    hostname = "ip-" + instance.private_ip.replace(".", "-") + ".ec2.internal"
    region = instance.availability_zone[:-1]
    meta: dict = {
        "ami-id": instance.ami_id,
        "hostname": hostname,
        "instance-id": instance.instance_id,
        "instance-type": instance.instance_type,
        "local-hostname": hostname,
        "local-ipv4": instance.private_ip,
        "mac": instance.mac,
        "placement": {"availability-zone": instance.availability_zone, "region": region},
        "services": {"domain": "amazonaws.com", "partition": "aws"},
        "network": {
            "interfaces": {
                "macs": {
                    instance.mac: {
                        "device-number": "0",
                        "local-ipv4s": instance.private_ip,
                        "mac": instance.mac,
                    }
                }
            }
        },
    }
    if instance.role:
        meta["iam"] = {
            "info": json.dumps(
                {
                    "Code": "Success",
                    "InstanceProfileArn": (
                        f"arn:aws:iam::123456789012:instance-profile/{instance.role}"
                    ),
                    "InstanceProfileId": "AIPABOXPROFILE",
                }
            ),
            "security-credentials": {instance.role: json.dumps(role_credentials())},
        }
    document = {
        "instanceId": instance.instance_id,
        "privateIp": instance.private_ip,
        "instanceType": instance.instance_type,
        "imageId": instance.ami_id,
        "availabilityZone": instance.availability_zone,
        "region": region,
        "accountId": "123456789012",
        "architecture": "x86_64",
    }
    root: dict = {
        "meta-data": meta,
        "dynamic": {"instance-identity": {"document": json.dumps(document)}},
    }
    if instance.user_data:
        root["user-data"] = instance.user_data
    return root


def answer(instance: Instance, path: str) -> tuple[int, str | bytes]:
    """The reply to a token-bearing GET of `path` (pure: no I/O)."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    if not parts:
        return 200, "latest"
    if parts[0] != "latest" and not parts[0][:4].isdigit():
        return 404, ""
    node: dict | str | bytes = tree(instance)
    for part in parts[1:]:
        if not isinstance(node, dict) or part not in node:
            return 404, ""
        node = node[part]
    if isinstance(node, dict):
        return 200, "\n".join(k + "/" if isinstance(v, dict) else k for k, v in node.items())
    return 200, node


class Service:
    """The metadata service; `instances` maps a source address to its Instance."""

    def __init__(self, host: str = ADDRESS, port: int = 80):
        self.instances: dict[str, Instance] = {}
        self.lock = threading.Lock()
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _instance(self) -> Instance | None:
                with service.lock:
                    return service.instances.get(self.client_address[0])

            def do_PUT(self):  # noqa: N802 - http.server's name
                instance = self._instance()
                ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
                if instance is None:
                    return self._send(404, "")
                if not ttl.isdigit() or not 1 <= int(ttl) <= TOKEN_TTL_MAX:
                    return self._send(400, "")
                if self.path != "/latest/api/token" or self.headers.get("X-Forwarded-For"):
                    return self._send(403, "")
                token = secrets.token_urlsafe(24)
                with service.lock:
                    instance.tokens[token] = time.monotonic() + int(ttl)
                # EC2's hop limit: the token's reply dies after that many hops.
                self.connection.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, instance.hop_limit)
                return self._send(200, token, {"X-aws-ec2-metadata-token-ttl-seconds": ttl})

            def do_GET(self):  # noqa: N802
                instance = self._instance()
                if instance is None:
                    return self._send(404, "")
                token = self.headers.get("X-aws-ec2-metadata-token", "")
                with service.lock:
                    expires = instance.tokens.get(token, 0)
                if expires < time.monotonic():
                    return self._send(401, "")
                code, body = answer(instance, self.path)
                return self._send(code, body)

            def _send(self, code: int, body: str | bytes, headers: dict | None = None) -> None:
                data = body.encode() if isinstance(body, str) else body
                self.send_response(code)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Content-Type", "text/plain")
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def put(self, instance: Instance) -> None:
        with self.lock:
            self.instances[instance.private_ip] = instance

    def drop(self, private_ip: str) -> None:
        with self.lock:
            self.instances.pop(private_ip, None)
