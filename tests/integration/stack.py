"""Drive a deployed local stack from the tests: the CLI, the hub API, the proxy."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, config: Path, check: bool = True, timeout: float = 1800):
    proc = subprocess.run(
        [sys.executable, str(REPO / "pipeline.py"), *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"pipeline {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


@dataclass
class Stack:
    config: Path
    state_dir: Path
    homes_dir: Path
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def secret(self, name: str) -> str:
        return (self.state_dir / "secrets" / name).read_text().strip()

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"token {self.secret('swarmhub-cli-token')}"}
        return requests.request(
            method, f"{self.url}/hub/api{path}", headers=headers, timeout=30, **kwargs
        )

    def healthy(self) -> bool:
        """The hub answers its health check through the proxy."""
        try:
            return requests.get(f"{self.url}/hub/health", timeout=3).status_code == 200
        except requests.RequestException:
            return False

    def user_token(self, user: str) -> str:
        r = self.api("POST", f"/users/{user}/tokens", json={"note": "test", "expires_in": 3600})
        assert r.status_code == 201, r.text
        return r.json()["token"]

    def server(self, user: str) -> dict:
        r = self.api("GET", f"/users/{user}")
        assert r.status_code == 200, r.text
        return r.json()["servers"].get("", {})

    def start(self, user: str, timeout: float = 120.0, **options) -> float:
        """Start `user`'s server; return seconds until the hub says it is ready."""
        t0 = time.monotonic()
        r = self.api("POST", f"/users/{user}/server", json=options or None)
        assert r.status_code in (201, 202), r.text
        self.wait(user, ready=True, timeout=timeout)
        return time.monotonic() - t0

    def stop(self, user: str, timeout: float = 60.0) -> None:
        r = self.api("DELETE", f"/users/{user}/server")
        assert r.status_code in (202, 204), r.text
        self.wait(user, ready=False, timeout=timeout)

    def wait(self, user: str, *, ready: bool, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            server = self.server(user)
            if ready and server.get("ready"):
                return
            if not ready and not server:
                return
            time.sleep(0.25)
        raise AssertionError(f"server of {user} not {'ready' if ready else 'stopped'}: {server}")

    def progress_messages(self, user: str, timeout: float) -> list[str]:
        """The messages of the spawn page's progress stream for the user's next
        spawn (call it beside `start`: it waits for the spawn to begin)."""
        deadline = time.monotonic() + timeout
        headers = {"Authorization": f"token {self.secret('swarmhub-cli-token')}"}
        url = f"{self.url}/hub/api/users/{user}/server/progress"
        while time.monotonic() < deadline:
            with requests.get(url, headers=headers, stream=True, timeout=timeout) as r:
                if r.status_code in (400, 404):  # not started yet
                    time.sleep(0.1)
                    continue
                assert r.status_code == 200, r.text
                messages = []
                for line in r.iter_lines(decode_unicode=True):
                    if not line or not line.startswith("data:"):
                        continue
                    event = json.loads(line[len("data:") :])
                    messages.append(event.get("message", ""))
                    if event.get("ready") or event.get("failed"):
                        return messages
                return messages
        raise AssertionError(f"no progress stream for {user} within {timeout:.0f}s")

    def login(self, user: str, password: str | None = None) -> requests.Session:
        """Sign in through the hub's login form, as a browser does; the session has the cookie."""
        s = requests.Session()
        s.get(f"{self.url}/hub/login", timeout=30)
        r = s.post(
            f"{self.url}/hub/login",
            data={
                "username": user,
                "password": password or self.secret("swarmhub-user-password"),
                "_xsrf": s.cookies.get("_xsrf"),
            },
            timeout=30,
            allow_redirects=False,
        )
        assert r.status_code == 302, f"login of {user} refused: {r.status_code}"
        return s

    def put_text(self, user: str, token: str, name: str, text: str) -> None:
        """Save a text file in the user's home through their server's contents API."""
        r = self.via_proxy(
            user,
            f"/api/contents/{name}",
            token,
            method="PUT",
            json={"type": "file", "format": "text", "content": text},
        )
        assert r.status_code in (200, 201), r.text

    def ensure_user(self, user: str) -> None:
        r = self.api("POST", f"/users/{user}")
        assert r.status_code in (201, 409), r.text

    def via_proxy(self, user: str, path: str, token: str, method: str = "GET", **kwargs):
        return requests.request(
            method,
            f"{self.url}/user/{user}{path}",
            headers={"Authorization": f"token {token}"},
            timeout=30,
            **kwargs,
        )


async def execute(
    stack: Stack, user: str, token: str, kernel_id: str, code: str, *, until_busy: bool = False
) -> str:
    """Run `code` in a kernel over its websocket; return what it printed or returned.

    until_busy: return as soon as the kernel reports busy (the code keeps running).
    """
    import websockets

    url = f"ws://127.0.0.1:{stack.port}/user/{user}/api/kernels/{kernel_id}/channels"
    msg_id = uuid.uuid4().hex
    request = {
        "header": {
            "msg_id": msg_id,
            "username": user,
            "session": uuid.uuid4().hex,
            "msg_type": "execute_request",
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": {"code": code, "silent": False, "store_history": False},
        "channel": "shell",
        "buffers": [],
    }
    out = []
    async with websockets.connect(
        url, additional_headers={"Authorization": f"token {token}"}, open_timeout=30
    ) as ws:
        await ws.send(json.dumps(request))
        while True:
            msg = json.loads(await ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if until_busy and kind == "status" and msg["content"]["execution_state"] == "busy":
                return ""
            if kind == "stream":
                out.append(msg["content"]["text"])
            elif kind == "execute_result":
                out.append(msg["content"]["data"]["text/plain"])
            elif kind == "error":
                raise AssertionError(f"kernel error: {msg['content']}")
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                return "".join(out)
