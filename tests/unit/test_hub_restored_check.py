"""The hub's check, after its restart, of a server it had: kept while its task runs.

JupyterHub stops any such server that does not answer HTTP within
http_timeout; SwarmhubSpawner.poll waits for it first while its task runs.
The swarm is replaced at one boundary (`_poll`, the task's state, or the
Docker error asking for it raised); the HTTP answer comes from a real server
on this machine.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from docker.errors import APIError

from swarmhub.hub.spawner import SwarmhubSpawner


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        self.send_response(302)  # what jupyter-server answers at its base URL
        self.send_header("Location", "/lab")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server_later():
    """A URL nothing answers at until `answer()` is called."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started: list[ThreadingHTTPServer] = []

    def answer():
        httpd = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        started.append(httpd)

    yield f"http://127.0.0.1:{port}/user/ada/", answer
    for httpd in started:
        httpd.shutdown()
        httpd.server_close()


def _restored(url: str, task_states: list, **traits) -> SwarmhubSpawner:
    """A spawner the hub made at start-up for a server it had, mid-check."""
    sp = SwarmhubSpawner(
        user=SimpleNamespace(name="ada", id=1, url="/user/ada/"),
        restored_poll=0.05,
        **traits,
    )
    sp.server = SimpleNamespace(url=url)
    sp._check_pending = True
    looks = []

    async def task_status():
        looks.append(1)
        state = task_states[min(len(looks), len(task_states)) - 1]
        if isinstance(state, Exception):
            raise state
        return state

    sp._poll = task_status
    return sp


def test_a_running_server_that_answers_late_is_waited_for(server_later):
    url, answer = server_later
    sp = _restored(url, [None])

    async def check():
        loop = asyncio.get_running_loop()
        loop.call_later(0.5, answer)
        t0 = loop.time()
        status = await sp.poll()
        return status, loop.time() - t0

    status, took = asyncio.run(check())
    assert status is None
    assert took >= 0.5  # it waited for the answer, not for JupyterHub's check


def test_a_task_that_stops_while_waited_for_is_reported(server_later):
    url, _ = server_later
    sp = _restored(url, [None, None, "task failed, desired shutdown"])
    assert asyncio.run(sp.poll()) == "task failed, desired shutdown"


def test_a_server_that_never_answers_goes_to_the_hubs_check_at_the_deadline(server_later):
    url, _ = server_later
    sp = _restored(url, [None], restored_answer_timeout=0.5)

    async def check():
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        return await asyncio.wait_for(sp.poll(), 10), loop.time() - t0

    status, took = asyncio.run(check())
    assert status is None and 0.5 <= took < 5


def test_outside_the_start_up_check_poll_asks_only_the_swarm(server_later):
    url, _ = server_later  # nothing answers: a poll must not wait for it
    sp = _restored(url, [None])
    sp._check_pending = False

    async def check():
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        return await sp.poll(), loop.time() - t0

    status, took = asyncio.run(check())
    assert status is None and took < 0.5


def test_a_swarm_that_cannot_tell_yet_is_asked_again(server_later):
    """A Docker error during the check would make JupyterHub stop the server."""
    url, answer = server_later
    answer()
    no_leader = APIError("rpc error: code = Unknown desc = The swarm does not have a leader")
    sp = _restored(url, [no_leader, no_leader, None])
    assert asyncio.run(sp.poll()) is None


def test_a_swarm_error_that_outlasts_the_deadline_is_raised(server_later):
    url, answer = server_later
    answer()
    sp = _restored(url, [APIError("the engine is gone")], restored_answer_timeout=0.3)
    with pytest.raises(APIError):
        asyncio.run(asyncio.wait_for(sp.poll(), 10))
