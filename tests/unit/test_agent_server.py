"""The pool agent's HTTP server: a client that goes away is not an error."""

from __future__ import annotations

import contextlib
import http.client
import logging
import threading
from http.server import BaseHTTPRequestHandler

import pytest

from swarmhub.local.agent import AgentServer


def _server_raising(exc: Exception) -> AgentServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            raise exc

        def log_message(self, *args):
            pass

    server = AgentServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _get(server: AgentServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    with contextlib.suppress(http.client.HTTPException, OSError):
        conn.request("GET", "/nodes")
        conn.getresponse()
    conn.close()


@pytest.mark.parametrize("gone", [BrokenPipeError(32, "Broken pipe"), ConnectionResetError()])
def test_a_client_that_went_away_is_one_quiet_line(gone, capfd, caplog):
    server = _server_raising(gone)
    try:
        with caplog.at_level(logging.INFO, logger="swarmhub.pool"):
            _get(server)
            server.shutdown()  # waits for the handler thread's error handling
    finally:
        server.server_close()
    assert "Traceback" not in capfd.readouterr().err
    assert any("went away before its answer" in r.getMessage() for r in caplog.records)


def test_any_other_error_in_a_handler_still_prints_its_traceback(capfd):
    server = _server_raising(ValueError("a bug"))
    try:
        _get(server)
        server.shutdown()
    finally:
        server.server_close()
    err = capfd.readouterr().err
    assert "Traceback" in err and "ValueError: a bug" in err
