"""A real Chef Server API for the tests: goiardi (Debian's package) with auth on.

goiardi started with --use-auth and an empty --conf-root generates the keys of
its 'admin' user and of 'chef-validator'/'chef-webui' into that directory. It
runs in memory (no data file), on a free loopback port, and is stopped after
the test. It is single-tenant (Chef 11-style URLs, no /organizations/<org>).
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import require_tool


@dataclass(frozen=True)
class Goiardi:
    url: str
    admin_name: str
    admin_key: Path
    conf_root: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def goiardi(tmp_path: Path) -> Iterator[Goiardi]:
    binary = require_tool("goiardi", path="/usr/bin/goiardi")
    port = _free_port()
    conf = tmp_path / "goiardi"
    conf.mkdir()
    log = (tmp_path / "goiardi.log").open("w")
    proc = subprocess.Popen(
        [
            binary,
            "--use-auth",
            f"--conf-root={conf}",
            "-I",
            "127.0.0.1",
            "-H",
            "127.0.0.1",
            "-P",
            str(port),
            "--log-level=info",
        ],
        cwd=conf,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                pytest.fail(f"goiardi exited with {proc.returncode}: see {log.name}")
            try:
                # Unsigned: 401 means it is up and enforcing auth.
                if requests.get(url + "/nodes", timeout=1).status_code == 401:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("goiardi did not answer within 20 s")
            time.sleep(0.1)
        key = conf / "admin.pem"
        assert key.exists(), "goiardi did not write admin.pem"
        yield Goiardi(url=url, admin_name="admin", admin_key=key, conf_root=conf)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
