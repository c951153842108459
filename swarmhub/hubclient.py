"""A client of a running hub, as an operator's script or a student's browser meets it.

`status`, the integration tests and the benchmarks share it: the REST API
with a token, and the browser's path (the login form with its XSRF cookie,
the spawn page, the redirects into the server, a kernel over its websocket).
Every wait has a deadline and says what it waited for. Running code in a
kernel over its websocket is in swarmhub.kernels (it needs `websockets`, which
the CLI does not).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import TypeVar

import requests

T = TypeVar("T")


def wait_for(check: Callable[[], T], timeout: float, what: str, interval: float = 0.5) -> T:
    """Call `check` until it returns something truthy; fail after `timeout` naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def pipeline(*args: str, config, check: bool = True, timeout: float = 1800):
    """Run `python pipeline.py ARGS --config CONFIG` as an operator would."""
    proc = subprocess.run(
        [sys.executable, "-m", "swarmhub.cli", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise RuntimeError(f"pipeline {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


# JupyterHub answers a list request with at most `api_page_max_limit` items
# (200 by default) and says nothing of the rest unless the client asks for pages.
PAGED = {"Accept": "application/jupyterhub-pagination+json"}


def paged(get: Callable[[dict], requests.Response], params: dict, max_pages: int = 1000) -> list:
    """Every item of a JupyterHub list endpoint: `get(params)` page by page."""
    items: list = []
    offset = 0
    for _ in range(max_pages):
        r = get({**params, "offset": offset})
        r.raise_for_status()
        body = r.json()
        if isinstance(body, list):  # a hub that does not page answers everything at once
            return items + body
        items.extend(body["items"])
        following = (body.get("_pagination") or {}).get("next")
        if not following:
            return items
        offset = following["offset"]
    raise RuntimeError(f"more than {max_pages} pages from the hub's API: stopped")


@dataclass(frozen=True)
class Health:
    """What the hub's health check said: healthy, slow (answers, late: busy, not
    dead) or not answering; how long it took and, if not healthy, why."""

    state: str  # "healthy" | "slow" | "not answering"
    seconds: float | None
    detail: str = ""

    def line(self) -> str:
        if self.state == "healthy":
            return f"healthy ({self.seconds:.2f} s)"
        if self.state == "slow":
            return f"slow: answered in {self.seconds:.1f} s (busy, but serving: do not restart it)"
        return f"NOT ANSWERING: {self.detail}"

    def as_dict(self) -> dict:
        return {"state": self.state, "seconds": self.seconds, "detail": self.detail}


@dataclass
class HubClient:
    """The hub at `url` (through its proxy), with an API token of admin scopes:
    `token`, or read from `token_file` at each call (a redeploy may write it)."""

    url: str
    token: str = ""
    token_file: str = ""
    verify: str | bool = True
    timeout: float = 30.0
    _session: requests.Session = field(default_factory=requests.Session, repr=False)

    # --- the REST API ------------------------------------------------------

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        token = self.token
        if not token and self.token_file:
            with open(self.token_file) as f:
                token = f.read().strip()
        headers = {"Authorization": f"token {token}", **kwargs.pop("headers", {})}
        return self._session.request(
            method,
            f"{self.url}/hub/api{path}",
            headers=headers,
            timeout=kwargs.pop("timeout", self.timeout),
            verify=self.verify,
            **kwargs,
        )

    def healthy(self) -> bool:
        """The hub answers its health check (through the proxy)."""
        try:
            r = requests.get(f"{self.url}/hub/health", timeout=3, verify=self.verify)
        except requests.RequestException:
            return False
        return r.status_code == 200

    def health(self, *, slow: float = 2.0, patience: float = 30.0) -> Health:
        """Ask /hub/health and tell a slow hub from a dead one: a busy hub mid-class
        may take seconds to answer; nothing listening, a proxy whose hub is gone
        (5xx) or no answer within `patience` is dead. Connecting has 5 s: a
        machine that is there accepts at once, however busy its hub."""
        began = time.monotonic()
        try:
            r = requests.get(f"{self.url}/hub/health", timeout=(5, patience), verify=self.verify)
        except requests.exceptions.ConnectTimeout:
            return Health("not answering", None, "no connection within 5 s")
        except requests.exceptions.ReadTimeout:
            return Health("not answering", None, f"connected, but no answer within {patience:g} s")
        except requests.exceptions.SSLError as exc:
            return Health("not answering", None, f"TLS failed ({exc.__class__.__name__})")
        except requests.ConnectionError:
            return Health("not answering", None, "nothing listens there (connection refused)")
        except requests.RequestException as exc:
            return Health("not answering", None, f"{exc.__class__.__name__}")
        took = time.monotonic() - began
        if r.status_code != 200:
            return Health(
                "not answering",
                took,
                f"the proxy answers {r.status_code}; the hub behind it does not",
            )
        return Health("healthy" if took < slow else "slow", took)

    def answers_api(self) -> bool:
        """The hub's REST API answers our token."""
        try:
            return self.api("GET", "/").status_code == 200
        except requests.RequestException:
            return False

    def users(self, **params) -> list[dict]:
        """Every user (past the hub's page limit), e.g. users(state="active")."""
        return paged(lambda p: self.api("GET", "/users", params=p, headers=PAGED), params)

    def ensure_user(self, user: str) -> None:
        r = self.api("POST", f"/users/{user}")
        if r.status_code not in (201, 409):
            raise RuntimeError(f"could not create user {user}: {r.status_code} {r.text}")

    def user_token(self, user: str, expires_in: int = 3600) -> str:
        r = self.api(
            "POST", f"/users/{user}/tokens", json={"note": "swarmhub", "expires_in": expires_in}
        )
        if r.status_code != 201:
            raise RuntimeError(f"no token for {user}: {r.status_code} {r.text}")
        return r.json()["token"]

    def server(self, user: str) -> dict:
        r = self.api("GET", f"/users/{user}")
        r.raise_for_status()
        return r.json()["servers"].get("", {})

    def start(self, user: str, timeout: float = 120.0, **options) -> float:
        """Start `user`'s server; seconds until the hub says it is ready."""
        t0 = time.monotonic()
        r = self.api("POST", f"/users/{user}/server", json=options or None)
        if r.status_code not in (201, 202):
            raise RuntimeError(f"start of {user}'s server refused: {r.status_code} {r.text}")
        self.wait(user, ready=True, timeout=timeout)
        return time.monotonic() - t0

    def stop(self, user: str, timeout: float = 60.0) -> None:
        r = self.api("DELETE", f"/users/{user}/server")
        if r.status_code not in (202, 204, 400):  # 400: not running
            raise RuntimeError(f"stop of {user}'s server refused: {r.status_code} {r.text}")
        self.wait(user, ready=False, timeout=timeout)

    def wait(self, user: str, *, ready: bool, timeout: float) -> None:
        def done() -> bool:
            server = self.server(user)
            return bool(server.get("ready")) if ready else not server

        wait_for(done, timeout, f"{user}'s server to be {'ready' if ready else 'stopped'}", 0.25)

    def via_proxy(self, user: str, path: str, token: str, method: str = "GET", **kwargs):
        """A request to the user's server through the proxy, with a token."""
        return requests.request(
            method,
            f"{self.url}/user/{user}{path}",
            headers={"Authorization": f"token {token}"},
            timeout=kwargs.pop("timeout", self.timeout),
            verify=self.verify,
            **kwargs,
        )

    # --- the browser's path --------------------------------------------------

    def login(self, user: str, password: str) -> Browser:
        """Sign in through the login form, as a browser does (XSRF cookie and all)."""
        s = requests.Session()
        s.verify = self.verify
        s.get(f"{self.url}/hub/login", timeout=self.timeout)
        r = s.post(
            f"{self.url}/hub/login",
            data={"username": user, "password": password, "_xsrf": s.cookies.get("_xsrf")},
            timeout=self.timeout,
            allow_redirects=False,
        )
        if r.status_code != 302:
            raise PermissionError(f"login of {user} refused: {r.status_code}")
        return Browser(self.url, user, s, self.timeout)


class _FormInputs(HTMLParser):
    """The hidden inputs of a page's form: what a browser posts when it is submitted."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("type") == "hidden" and a.get("name"):
            self.fields.append((a["name"], a.get("value") or ""))


def follow_consent(session: requests.Session, r: requests.Response, timeout: float):
    """Past the hub's OAuth consent page ("Authorize access"), as a person who clicks
    Authorize: the hub shows it before someone opens a server that is not theirs.
    Any other response is returned as it is."""
    if r.status_code != 200 or "/hub/api/oauth2/authorize" not in r.url:
        return r
    form = _FormInputs()
    form.feed(r.text)
    return session.post(r.url, data=form.fields, timeout=timeout)


@dataclass
class Browser:
    """A signed-in browser session of one student."""

    url: str
    user: str
    session: requests.Session
    timeout: float = 30.0

    def open_lab(self, deadline: float) -> float:
        """Ask for the server the way the home page's Start button does and follow
        the spawn page's redirects until JupyterLab itself answers; seconds taken.

        `deadline` is a time.monotonic() value: past it, a TimeoutError.
        """
        t0 = time.monotonic()
        target = f"{self.url}/user/{self.user}/lab"
        r = self.session.get(f"{self.url}/hub/spawn/{self.user}", timeout=self.timeout)
        while True:
            if r.status_code == 200 and r.url.startswith(target):
                return time.monotonic() - t0
            if r.status_code >= 500 and "/hub/" in r.url and "spawn" not in r.url:
                raise RuntimeError(f"{self.user}: the hub answered {r.status_code} at {r.url}")
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.user}'s lab did not open in time (last: {r.status_code} {r.url})"
                )
            # The spawn-pending page polls; a browser would follow its progress
            # stream and then load the server's URL.
            time.sleep(0.5)
            r = self.session.get(target, timeout=self.timeout)

    def xsrf_headers(self) -> dict[str, str]:
        return {"X-XSRFToken": self.session.cookies.get("_xsrf", path=f"/user/{self.user}/") or ""}

    def start_kernel(self) -> str:
        r = self.session.post(
            f"{self.url}/user/{self.user}/api/kernels",
            json={"name": "python3"},
            headers=self.xsrf_headers(),
            timeout=self.timeout,
        )
        if r.status_code != 201:
            raise RuntimeError(f"{self.user}: no kernel: {r.status_code} {r.text[:200]}")
        return r.json()["id"]

    def stop_kernel(self, kernel_id: str) -> None:
        self.session.delete(
            f"{self.url}/user/{self.user}/api/kernels/{kernel_id}",
            headers=self.xsrf_headers(),
            timeout=self.timeout,
        )
