"""A small Chef Infra Server API client: signed requests for nodes and clients.

Only what swarmhub calls: get/list/delete node, get/delete client, and create
node/client (the tests and enrollment checks). Requests are signed with the
Chef authentication protocol version 1.3 (as knife and mixlib-authentication
do): SHA-256 content hash, the canonical request

    Method:DELETE
    Path:/organizations/acme/nodes/i-0abc
    X-Ops-Content-Hash:<base64 sha256 of the body>
    X-Ops-Sign:version=1.3
    X-Ops-Timestamp:2026-01-01T12:00:00Z
    X-Ops-UserId:<client name>
    X-Ops-Server-API-Version:1

signed with RSA PKCS#1 v1.5 over SHA-256, base64, split into 60-character
X-Ops-Authorization-N headers. Chef/Cinc Server and goiardi (>= 0.11) accept
it. Why not pychef: see docs/decisions/0006-chef-api-client.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from swarmhub.errors import SwarmhubError

PROTOCOL_VERSION = "1.3"
SERVER_API_VERSION = "1"
# Sent as X-Chef-Version: servers refuse clients without one.
CHEF_VERSION = "18.0.0"
_SEGMENT = 60


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def canonical_path(path: str) -> str:
    """Collapse repeated slashes and drop a trailing one, as the server does."""
    path = re.sub(r"/+", "/", path or "/")
    return path.rstrip("/") if len(path) > 1 else path


def content_hash(body: bytes) -> str:
    return _b64(hashlib.sha256(body).digest())


def canonical_request(
    method: str,
    path: str,
    body: bytes,
    timestamp: str,
    user_id: str,
    server_api_version: str = SERVER_API_VERSION,
) -> str:
    """The protocol 1.3 string to sign."""
    return "\n".join(
        (
            f"Method:{method.upper()}",
            f"Path:{canonical_path(path)}",
            f"X-Ops-Content-Hash:{content_hash(body)}",
            f"X-Ops-Sign:version={PROTOCOL_VERSION}",
            f"X-Ops-Timestamp:{timestamp}",
            f"X-Ops-UserId:{user_id}",
            f"X-Ops-Server-API-Version:{server_api_version}",
        )
    )


def sign_headers(
    key: rsa.RSAPrivateKey,
    *,
    method: str,
    path: str,
    body: bytes,
    user_id: str,
    timestamp: str,
    server_api_version: str = SERVER_API_VERSION,
) -> dict[str, str]:
    """The authentication headers for one request (pure, given the timestamp).

    `path` is the URL path only (no query string), including any
    /organizations/<org> prefix.
    """
    to_sign = canonical_request(method, path, body, timestamp, user_id, server_api_version)
    signature = _b64(key.sign(to_sign.encode(), padding.PKCS1v15(), hashes.SHA256()))
    headers = {
        # The trailing ';' is what mixlib-authentication sends; servers accept both.
        "X-Ops-Sign": f"algorithm=sha256;version={PROTOCOL_VERSION};",
        "X-Ops-Userid": user_id,
        "X-Ops-Timestamp": timestamp,
        "X-Ops-Content-Hash": content_hash(body),
        "X-Ops-Server-API-Version": server_api_version,
    }
    for i in range(0, len(signature), _SEGMENT):
        headers[f"X-Ops-Authorization-{i // _SEGMENT + 1}"] = signature[i : i + _SEGMENT]
    return headers


def load_key(path: str | Path) -> rsa.RSAPrivateKey:
    """An RSA private key from a PEM file, or a SwarmhubError naming the file."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SwarmhubError(f"cannot read the Chef client key {path}: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SwarmhubError(f"{path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SwarmhubError(f"{path} is not an RSA key (the Chef protocol signs with RSA)")
    return key


def _utcnow() -> datetime:
    """Only a function so tests can pin the clock."""
    return datetime.now(UTC)


class ChefClient:
    """Signed JSON requests to one Chef Server (organization) as one client.

    server_url: e.g. https://chef.example.org (with `org`) or
    http://127.0.0.1:4545 (goiardi, no org); `org` adds /organizations/<org>.
    """

    def __init__(
        self,
        server_url: str,
        client_name: str,
        key: rsa.RSAPrivateKey,
        *,
        org: str | None = None,
        verify: bool | str = True,
        timeout: float = 30.0,
        session: requests.Session | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ):
        base = server_url.rstrip("/")
        if org:
            base += f"/organizations/{quote(org, safe='')}"
        self.base_url = base
        self.server_url = server_url.rstrip("/")
        self.client_name = client_name
        self._key = key
        self._verify = verify
        self._timeout = timeout
        self._session = session or requests.Session()
        self._clock = clock

    # -- the calls we make -------------------------------------------------

    def get_node(self, name: str) -> dict | None:
        return self._get(f"/nodes/{quote(name, safe='')}")

    def list_nodes(self) -> list[str]:
        return sorted(self._get("/nodes") or {})

    def delete_node(self, name: str) -> bool:
        """True if it was deleted, False if there was none (both are fine)."""
        return self._delete(f"/nodes/{quote(name, safe='')}")

    def get_client(self, name: str) -> dict | None:
        return self._get(f"/clients/{quote(name, safe='')}")

    def delete_client(self, name: str) -> bool:
        return self._delete(f"/clients/{quote(name, safe='')}")

    def create_node(self, name: str, run_list: list[str] | None = None) -> dict:
        body = {
            "name": name,
            "chef_type": "node",
            "json_class": "Chef::Node",
            "chef_environment": "_default",
            "run_list": run_list or [],
            "normal": {},
            "default": {},
            "override": {},
            "automatic": {},
        }
        return self.request("POST", "/nodes", body).json()

    def create_client(self, name: str) -> dict:
        """Create an API client; the answer carries its private key (keep it secret)."""
        body = {"name": name, "admin": False, "validator": False, "create_key": True}
        return self.request("POST", "/clients", body).json()

    # -- the plumbing ------------------------------------------------------

    def _get(self, path: str) -> dict | None:
        response = self.request("GET", path, ok=(200, 404))
        return None if response.status_code == 404 else response.json()

    def _delete(self, path: str) -> bool:
        return self.request("DELETE", path, ok=(200, 404)).status_code == 200

    def request(
        self, method: str, path: str, body: object = None, *, ok: tuple[int, ...] = (200, 201)
    ) -> requests.Response:
        """One signed request; a status outside `ok` raises SwarmhubError."""
        url = self.base_url + path
        data = b"" if body is None else json.dumps(body).encode()
        headers = sign_headers(
            self._key,
            method=method,
            path=urlsplit(url).path,
            body=data,
            user_id=self.client_name,
            timestamp=self._clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        headers |= {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "X-Chef-Version": CHEF_VERSION,
        }
        try:
            response = self._session.request(
                method,
                url,
                data=data or None,
                headers=headers,
                timeout=self._timeout,
                verify=self._verify,
            )
        except requests.RequestException as exc:
            raise SwarmhubError(
                f"cannot reach the Chef Server at {self.server_url}: {exc}"
            ) from None
        if response.status_code in ok:
            return response
        if response.status_code == 401:
            raise SwarmhubError(
                f"Chef Server at {self.server_url} rejected the request signature for client "
                f"'{self.client_name}': check the key"
            )
        if response.status_code == 403:
            raise SwarmhubError(
                f"Chef Server at {self.server_url}: client '{self.client_name}' may not "
                f"{method} {path}",
                hint="give the client permission on nodes and clients",
            )
        raise SwarmhubError(
            f"Chef Server at {self.server_url}: {method} {path} answered "
            f"{response.status_code}: {_error_text(response)}"
        )


def _error_text(response: requests.Response) -> str:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, list):
        error = "; ".join(str(e) for e in error)
    return str(error or response.text[:200] or response.reason)
