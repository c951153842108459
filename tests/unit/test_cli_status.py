"""`status` tells a slow hub from a dead one (issue 23 item 7).

A real HTTP server on a free port plays the hub's /hub/health: answering at
once, answering late (a busy hub in the middle of a class), answering 503 (the
proxy up, the hub behind it gone), or nothing listening at all.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from swarmhub.hubclient import HubClient


def _server(delay: float, code: int = 200):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            time.sleep(delay)
            body = json.dumps({}).encode()
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def hub():
    servers = []

    def start(delay: float = 0.0, code: int = 200) -> HubClient:
        server = _server(delay, code)
        servers.append(server)
        return HubClient(f"http://127.0.0.1:{server.server_port}")

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def test_a_hub_that_answers_at_once_is_healthy(hub):
    health = hub().health()
    assert health.state == "healthy"
    assert health.seconds < 1


def test_a_busy_hub_that_answers_late_is_slow_not_dead(hub):
    # The old check gave up after 3 s and printed NOT ANSWERING.
    health = hub(delay=3.5).health(slow=1.0, patience=10.0)
    assert health.state == "slow"
    assert 3.5 <= health.seconds < 10
    assert health.line() == (
        f"slow: answered in {health.seconds:.1f} s (busy, but serving: do not restart it)"
    )


def test_a_hub_that_never_answers_within_patience_is_not_answering(hub):
    health = hub(delay=3.0).health(slow=0.5, patience=1.0)
    assert health.state == "not answering"
    assert health.line() == "NOT ANSWERING: connected, but no answer within 1 s"


def test_a_proxy_whose_hub_is_gone_is_not_answering(hub):
    health = hub(code=503).health()
    assert health.state == "not answering"
    assert health.line() == "NOT ANSWERING: the proxy answers 503; the hub behind it does not"


def test_nothing_listening_is_not_answering_at_once():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    began = time.monotonic()
    health = HubClient(f"http://127.0.0.1:{port}").health()
    assert time.monotonic() - began < 5
    assert health.state == "not answering"
    assert health.line() == "NOT ANSWERING: nothing listens there (connection refused)"
    assert health.as_dict() == {
        "state": "not answering",
        "seconds": None,
        "detail": "nothing listens there (connection refused)",
    }


class _Node:
    instance_id, hostname, state, availability = "node-1", "h", "ready", "active"
    user_servers = ["s1"]
    mem_reserved, mem_total, cpu_reserved, cpu_total = 2**30, 8 * 2**30, 0.25, 4.0


@pytest.fixture
def local_status(monkeypatch, hub):
    from swarmhub.local import engine
    from swarmhub.local import status as local_status

    class Engine:
        api = None

        def info(self):
            return {"Swarm": {"LocalNodeState": "active"}}

    client = hub(delay=2.5)
    client.users = lambda: [{"name": "ada", "admin": False, "servers": {"": {"ready": True}}}]
    monkeypatch.setattr(engine, "require_root", lambda: None)
    monkeypatch.setattr(engine, "is_up", lambda: True)
    monkeypatch.setattr(engine, "client", lambda: Engine())
    monkeypatch.setattr(local_status, "hub_client", lambda cfg: client)
    monkeypatch.setattr(local_status, "snapshot", lambda api: ([_Node()], []))
    monkeypatch.setattr(local_status, "host_ip", lambda: "10.0.0.1")
    return local_status


def test_status_shows_a_slow_hub_as_slow_and_still_lists_its_users(local_status, capsys):
    from swarmhub.config import Config

    local_status.status(Config())
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("hub      http://10.0.0.1:8000/  slow: answered in 2.")
    assert out[0].endswith(" s (busy, but serving: do not restart it)")
    assert out[-2:] == ["users    1", "  ada                  running"]


def test_status_json_is_for_scripts(local_status, capsys):
    from swarmhub.config import Config

    local_status.status(Config(), as_json=True)
    report = json.loads(capsys.readouterr().out)
    assert report["hub"]["state"] == "slow"
    assert report["hub"]["url"] == "http://10.0.0.1:8000/"
    assert report["nodes"][0]["id"] == "node-1"
    assert report["users"] == [{"name": "ada", "admin": False, "server": "running"}]
