"""The hub's event recording: what the spawner writes for report and replay.

The spawner is the real SwarmhubSpawner with Docker replaced at its own
seams (`_start`, `_poll`, dockerspawner's `stop`); the file it writes is read
back with trace.py's reader, as `report` reads it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import dockerspawner
import pytest

from swarmhub.autoscaler.trace import read_events, visits
from swarmhub.hub import events
from swarmhub.hub.spawner import SwarmhubSpawner

GiB = 1024**3
T0 = datetime(2025, 3, 25, 13, 0, tzinfo=UTC)


class _Spawner(SwarmhubSpawner):
    client = None
    fail_with: BaseException | None = None
    poll_says = None

    async def _start(self):
        await asyncio.sleep(0)
        if self.fail_with is not None:
            raise self.fail_with
        self.extra_placement_spec = {"constraints": ["node.role==worker", "node.id==n1"]}
        return "10.0.0.5", 8888

    async def _poll(self):
        return self.poll_says


@pytest.fixture
def clock(monkeypatch, tmp_path):
    now = [T0]
    monkeypatch.setattr(events, "utcnow", lambda: now[0])
    monkeypatch.setenv(events.FILE_ENV, str(tmp_path / "events.jsonl"))
    monkeypatch.setattr(events, "_warned", False)
    monkeypatch.setattr(events, "cull_idle_seconds", None)

    async def fake_stop(self, now=False):
        return None

    monkeypatch.setattr(dockerspawner.SwarmSpawner, "stop", fake_stop)

    def advance(seconds):
        now[0] += timedelta(seconds=seconds)

    return advance


def _spawner(fail_with=None):
    user = SimpleNamespace(name="ada", id=1, url="/user/ada/")
    sp = _Spawner(user=user, mem_guarantee=2 * GiB, cpu_guarantee=0.5)
    sp.fail_with = fail_with
    sp.user_options = {"profile": "big"}
    sp.course = "intro"
    return sp


def _recorded(tmp_path):
    return read_events(tmp_path / "events.jsonl")


def test_a_server_the_student_stops_is_three_events(clock, tmp_path):
    sp = _spawner()

    async def go():
        start = asyncio.ensure_future(sp.start())
        await asyncio.sleep(0)
        clock(7.5)
        await start
        clock(3600)
        await sp.stop()

    asyncio.run(go())
    found = _recorded(tmp_path)
    assert [e.event for e in found] == ["spawn_requested", "server_started", "server_stopped"]
    assert {(e.user, e.course, e.profile, e.mem_reservation, e.cpu_reservation) for e in found} == {
        ("ada", "intro", "big", 2 * GiB, 0.5)
    }
    assert found[1].spawn_wait_seconds == 7.5
    assert found[1].node == found[2].node == "n1"
    assert found[2].reason == "user"
    (v,) = visits(found)
    assert (v.stopped - v.started).total_seconds() == 3600 and v.reason == "user"


def test_a_failed_start_is_recorded_once_as_failed(clock, tmp_path):
    sp = _spawner(fail_with=RuntimeError("no room"))
    with pytest.raises(RuntimeError):
        asyncio.run(sp.start())
    asyncio.run(sp.stop())  # JupyterHub's cleanup after a failed spawn
    found = _recorded(tmp_path)
    assert [(e.event, e.reason) for e in found] == [
        ("spawn_requested", None),
        ("server_stopped", "failed"),
    ]


def test_a_cancelled_start_counts_as_failed(clock, tmp_path):
    sp = _spawner(fail_with=asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(sp.start())
    assert _recorded(tmp_path)[-1].reason == "failed"


@pytest.mark.parametrize(
    ("status", "reason"),
    [("node w2 is down", "lost"), ({"State": "failed"}, "failed"), (0, "failed")],
)
def test_a_stop_only_poll_sees_is_recorded_with_why(clock, tmp_path, status, reason):
    sp = _spawner()
    asyncio.run(sp.start())
    assert asyncio.run(sp.poll()) is None  # running: nothing written
    sp.poll_says = status
    assert asyncio.run(sp.poll()) == status
    assert asyncio.run(sp.poll()) == status  # the hub may ask again: still one stop
    stops = [e for e in _recorded(tmp_path) if e.event == "server_stopped"]
    assert [(e.reason, e.node) for e in stops] == [(reason, "n1")]


def test_a_server_idle_for_the_cull_timeout_was_culled(clock, tmp_path):
    events.configure(idle_timeout=3600)
    sp = _spawner()
    asyncio.run(sp.start())
    clock(4000)
    sp.orm_spawner = SimpleNamespace(
        server=None, last_activity=(T0 + timedelta(seconds=100)).replace(tzinfo=None)
    )
    asyncio.run(sp.stop())
    assert _recorded(tmp_path)[-1].reason == "culled"


def test_after_a_hub_restart_a_fresh_spawner_still_records_the_stop(clock, tmp_path):
    asyncio.run(_spawner().stop())
    (e,) = _recorded(tmp_path)
    assert (e.event, e.reason, e.node) == ("server_stopped", "user", None)


def test_recording_that_fails_never_fails_a_spawn_and_warns_once(clock, monkeypatch, caplog):
    monkeypatch.setenv(events.FILE_ENV, "/nonexistent/dir/events.jsonl")
    sp = _spawner()
    caplog.set_level(logging.WARNING)
    assert asyncio.run(sp.start()) == ("10.0.0.5", 8888)
    asyncio.run(sp.stop())
    warned = [r for r in caplog.records if "could not record" in r.getMessage()]
    assert len(warned) == 1


def test_the_course_hook_takes_the_attribute_then_the_options():
    sp = SimpleNamespace(user_options={"course": "stats", "profile": "p"})
    assert events.course_of(sp) == "stats" and events.profile_of(sp) == "p"
    sp.course = "intro"
    assert events.course_of(sp) == "intro"
    assert events.course_of(SimpleNamespace()) is None


def test_the_local_file_is_in_the_hub_state_the_hub_container_mounts(tmp_path):
    from swarmhub.config import parse_config
    from swarmhub.local.paths import paths
    from swarmhub.swarm import specs

    cfg = parse_config({"local": {"state_dir": str(tmp_path / "s")}}, "t.yaml")
    assert events.local_events_file(cfg) == paths(cfg).hub_state / "events.jsonl"
    assert events.HUB_STATE_DIR == specs.STATE_DIR
    _, hub = specs.specs(
        image="i", hub_state=paths(cfg).hub_state, homes="/h", settings_text="", port=1,
        hub_secrets=[],
    )  # fmt: skip
    assert f"{paths(cfg).hub_state}:{specs.STATE_DIR}:rw" in hub["mounts"]
