"""Drive a deployed local stack from the tests: the CLI, the hub API, the proxy.

The client itself is the package's (swarmhub.hubclient), shared with `status`
and the benchmarks; this adds what a test knows about its stack.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import requests

from swarmhub.hubclient import Browser, HubClient, pipeline
from swarmhub.hubclient import wait_for as _wait_for
from swarmhub.kernels import execute

REPO = Path(__file__).resolve().parents[2]


def wait_for(check, timeout: float, what: str, interval: float = 0.5):
    """Call `check` until it returns something truthy; fail after `timeout` naming `what`."""
    try:
        return _wait_for(check, timeout, what, interval)
    except TimeoutError as exc:
        raise AssertionError(str(exc)) from None


def cli(*args: str, config: Path, check: bool = True, timeout: float = 1800):
    try:
        return pipeline(*args, config=config, check=check, timeout=timeout)
    except RuntimeError as exc:
        raise AssertionError(str(exc)) from None


_PASSWORDS: dict[str, dict[str, str]] = {}  # state dir -> user -> password


class Stack(HubClient):
    """A deployed local stack: its config, its state and homes, its port."""

    def __init__(self, config: Path, state_dir: Path, homes_dir: Path, port: int):
        super().__init__(
            url=f"http://127.0.0.1:{port}",
            token_file=str(Path(state_dir) / "secrets" / "swarmhub-cli-token"),
        )
        self.config = Path(config)
        self.state_dir = Path(state_dir)
        self.homes_dir = Path(homes_dir)
        self.port = port

    def secret(self, name: str) -> str:
        return (self.state_dir / "secrets" / name).read_text().strip()

    def start(self, user: str, timeout: float = 120.0, **options) -> float:
        try:
            return super().start(user, timeout, **options)
        except TimeoutError as exc:
            raise AssertionError(f"{exc}: {self.server(user)}") from None

    def stop(self, user: str, timeout: float = 60.0) -> None:
        try:
            super().stop(user, timeout)
        except TimeoutError as exc:
            raise AssertionError(f"{exc}: {self.server(user)}") from None

    def password(self, user: str) -> str:
        """The user's own password: an account made (or reset) with `users add`, as
        an instructor does; with a shared-password hub, the class password."""
        from swarmhub.config import load_config

        if load_config(self.config).hub.auth.kind == "shared-password":
            return self.secret("swarmhub-user-password")
        # One cache for every Stack of this state (a re-deployed stack is a new
        # object): a reset through one must not leave another's password stale.
        known = _PASSWORDS.setdefault(str(self.state_dir), {})
        if user not in known:
            out = cli("users", "add", user, "--reset", config=self.config).stdout
            rows = out.splitlines()[1:]  # after the "username,password" header
            known.update(row.split(",", 1) for row in rows)
        return known[user]

    def login(self, user: str, password: str | None = None) -> requests.Session:
        """Sign in through the hub's login form, as a browser does; the session has the cookie."""
        try:
            browser = super().login(user, password or self.password(user))
        except PermissionError as exc:
            raise AssertionError(str(exc)) from None
        return browser.session

    def browser(self, user: str, password: str | None = None) -> Browser:
        session = self.login(user, password)
        return Browser(self.url, user, session, self.timeout)

    def progress_messages(self, user: str, timeout: float) -> list[str]:
        """The messages of the spawn page's progress stream for the user's next
        spawn (call it beside `start`: it waits for the spawn to begin)."""
        deadline = time.monotonic() + timeout
        url = f"{self.url}/hub/api/users/{user}/server/progress"
        headers = {"Authorization": f"token {self.secret('swarmhub-cli-token')}"}
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


def run_code(
    stack: Stack, user: str, token: str, kernel_id: str, code: str, *, until_busy: bool = False
) -> str:
    """Run `code` in a kernel over its websocket with a token; what it printed or returned."""
    url = f"ws://127.0.0.1:{stack.port}/user/{user}/api/kernels/{kernel_id}/channels"
    headers = {"Authorization": f"token {token}"}
    return asyncio.run(execute(url, headers, code, 120, until_busy=until_busy))
