"""Idle culling and disk quotas on the deployed local stack.

The shared stack runs with a one-hour culler; this module redeploys it with a
60 s timeout and small quotas (deploy replaces the hub when its settings
change; running servers survive that) and puts the original config back at
the end, so the other modules never see the short timeout.
"""

from __future__ import annotations

import os
import shutil
import time

import docker
import pytest
import yaml

from tests.integration.stack import Stack, cli, run_code

pytestmark = pytest.mark.integration

TIMEOUT = 60
MiB = 1024**2


def _hub_container_id() -> str | None:
    client = docker.from_env()
    found = client.containers.list(filters={"label": "com.docker.swarm.service.name=swarmhub-hub"})
    return found[0].id if found else None


def _redeploy(stack: Stack, config) -> None:
    """Deploy `config` and make sure the hub runs with it (a fresh hub process)."""
    before = _hub_container_id()
    cli("deploy", config=config)
    client = docker.from_env()
    if _hub_container_id() == before and before is not None:
        # The hub reads settings only at start.
        client.containers.get(before).kill()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        current = _hub_container_id()
        if stack.healthy() and current and current != before:
            return
        time.sleep(1)
    raise AssertionError("the hub did not come back after the redeploy")


@pytest.fixture(scope="module")
def short_culler(stack: Stack, tmp_path_factory):
    raw = yaml.safe_load(stack.config.read_text())
    raw.setdefault("servers", {})["idle_timeout"] = TIMEOUT
    raw["quota"] = {"soft": "1M", "hard": "3M"}
    path = tmp_path_factory.mktemp("short-culler") / "swarmhub.yaml"
    path.write_text(yaml.safe_dump(raw))
    _redeploy(stack, path)
    try:
        yield stack
    finally:
        _redeploy(stack, stack.config)


def _fill(stack: Stack, user: str, size: int) -> None:
    home = stack.homes_dir / user
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, 1000, 1000)
    (home / "data.bin").write_bytes(os.urandom(size))
    os.chown(home / "data.bin", 1000, 1000)


# Busy and saying so: a long computation that reports progress (IOPub output).
BUSY_LOUD = "import time\nfor i in range(80):\n    print(i, flush=True)\n    time.sleep(5)\n"
# Busy and silent: jupyter_server counts only IOPub messages as kernel activity.
BUSY_SILENT = "import time\ntime.sleep(400)\n"


@pytest.fixture(scope="module")
def culled(short_culler: Stack):
    """Start an idle, a loud busy and a silent busy server; wait past the timeout."""
    stack = short_culler
    users = {"cull-idle": None, "cull-busy": BUSY_LOUD, "cull-silent": BUSY_SILENT}
    for user, code in users.items():
        stack.ensure_user(user)
        stack.start(user)
        if code:
            token = stack.user_token(user)
            kernel = stack.via_proxy(
                user, "/api/kernels", token, method="POST", json={"name": "python3"}
            )
            assert kernel.status_code == 201, kernel.text
            run_code(stack, user, token, kernel.json()["id"], code, until_busy=True)
    started = time.monotonic()
    # Timeout + two culler rounds + one activity report + slack.
    deadline = started + TIMEOUT + 2 * 15 + 15 + 45
    while time.monotonic() < deadline and stack.server("cull-idle"):
        time.sleep(2)
    idle_gone_after = time.monotonic() - started
    # Give the busy ones as long again: they must still be there.
    time.sleep(max(0.0, TIMEOUT + 30 - idle_gone_after))
    state = {user: bool(stack.server(user)) for user in users}
    yield state, idle_gone_after
    for user in users:
        if stack.server(user):
            stack.stop(user)


def test_an_idle_server_is_culled(culled):
    state, after = culled
    assert state["cull-idle"] is False, f"idle server still running after {after:.0f}s"
    assert after >= TIMEOUT - 5  # not before its time


def test_a_busy_kernel_that_reports_progress_keeps_its_server(culled):
    state, _ = culled
    assert state["cull-busy"] is True


def test_a_silent_busy_kernel_keeps_its_server(culled):
    """jupyter_server alone counts only IOPub output; the notebook image's
    swarmhub_activity extension makes a busy kernel count (images/notebook/)."""
    state, _ = culled
    assert state["cull-silent"] is True


def test_over_the_hard_quota_a_spawn_is_refused_with_what_to_delete(short_culler: Stack):
    stack, user = short_culler, "quota-hard"
    stack.ensure_user(user)
    _fill(stack, user, 4 * MiB)
    try:
        r = stack.api("POST", f"/users/{user}/server")
        assert r.status_code == 403, (r.status_code, r.text)
        message = r.json()["message"]
        assert "over the limit of 3M" in message and "delete at least" in message
        assert stack.server(user) == {}
        # Once the user has cleaned up, the server starts.
        (stack.homes_dir / user / "data.bin").unlink()
        stack.start(user)
        stack.stop(user)
    finally:
        shutil.rmtree(stack.homes_dir / user, ignore_errors=True)


def test_over_the_soft_quota_the_hub_pages_warn(short_culler: Stack):
    stack, user = short_culler, "quota-soft"
    stack.ensure_user(user)
    _fill(stack, user, 2 * MiB)
    try:
        stack.start(user)  # the soft limit only warns
        s = stack.login(user)
        home = s.get(f"{stack.url}/hub/home", timeout=30)
        assert home.status_code == 200
        assert "over the warning level of 1M" in home.text
        stack.stop(user)
    finally:
        shutil.rmtree(stack.homes_dir / user, ignore_errors=True)
