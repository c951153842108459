"""SwarmhubSpawner waiting for room: what a student sees while every node is full.

The swarm is replaced at one boundary, `placement.choose` and the ledger's
capacity (which node fits, and how big the workers are, read from the swarm);
the spawner's waiting, its progress events, its errors and the hub settings
file it reads run for real.
"""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

import pytest
from tornado import web
from traitlets.config import Config

from swarmhub.config import parse_config
from swarmhub.hub import hubconfig, placement, settings
from swarmhub.hub.placement import Capacity
from swarmhub.hub.spawner import SwarmhubSpawner
from tests.helpers import runtime

GiB = 1024**3
STARTING = "a new one is starting"


class _Spawner(SwarmhubSpawner):
    client = None  # never reached: placement.choose is replaced


@pytest.fixture
def hub_settings():
    """The autoscaler section the spawner gets, through the hub config as deploy
    renders it (settings.json -> hubconfig.configure -> the spawner's traits)."""
    traits: dict = {}

    def write(**autoscaler):
        config = parse_config({"autoscaler": {"enabled": True, **autoscaler}}, "test.yaml")
        c = Config()
        hubconfig.configure(c, settings.Settings(config, runtime()))
        traits.clear()
        traits.update({k: c.SwarmhubSpawner[k] for k in ("autoscaling", "max_nodes", "quota")})

    write(max_nodes=3)
    _SETTINGS.append(traits)
    yield write
    _SETTINGS.clear()


_SETTINGS: list[dict] = []


def _spawner(**traits) -> _Spawner:
    user = SimpleNamespace(name="ada", id=1, url="/user/ada/")
    base = {"mem_guarantee": 2 * GiB, "cpu_guarantee": 0.5, "room_poll": 0.05}
    traits = {**base, **(_SETTINGS[-1] if _SETTINGS else {}), **traits}
    sp = _Spawner(user=user, **traits)
    sp._quota_checked, sp._placed = True, False  # as start() and the quota check leave it
    return sp


def _swarm(monkeypatch, *, free_after: int, node: str | None, workers=1, mem=8 * GiB):
    """The swarm: `workers` nodes of `mem`, one with room after `free_after` looks."""
    asked = []

    def choose(api, mem_, cpu, key="", image=None):
        asked.append((mem_, cpu, key))
        return node if len(asked) > free_after else None

    monkeypatch.setattr(placement, "choose", choose)
    monkeypatch.setattr(placement.LEDGER, "_capacity", Capacity(workers, mem, 2.0))
    return asked


async def _wait_watching_progress(sp):
    sp._started_at = asyncio.get_running_loop().time()
    messages = []

    async def watch():
        async for event in sp.progress():
            messages.append(event["message"])

    watcher = asyncio.ensure_future(watch())
    try:
        return await sp._wait_for_room(), messages
    finally:
        sp._placed = True
        await asyncio.wait_for(watcher, 5)


def test_a_spawn_waits_for_a_node_with_room_and_says_one_is_starting(monkeypatch, hub_settings):
    asked = _swarm(monkeypatch, free_after=10, node="n2")
    sp = _spawner(start_timeout=30)
    node, messages = asyncio.run(_wait_watching_progress(sp))
    assert node == "n2"
    assert asked[0] == (2 * GiB, 0.5, "jupyter-ada") and len(asked) == 11
    assert [m for m in messages if STARTING in m] == [messages[0]]
    assert not sp._waiting_for_room


def test_a_node_with_room_at_once_means_no_waiting_message(monkeypatch, hub_settings):
    _swarm(monkeypatch, free_after=0, node="n1")
    sp = _spawner(start_timeout=30)
    node, messages = asyncio.run(_wait_watching_progress(sp))
    assert node == "n1" and not any("full" in m for m in messages)


@pytest.mark.parametrize(
    ("autoscaler", "workers", "said"),
    [
        ({"max_nodes": 2}, 2, "the hub is at its largest (2 nodes)"),
        ({"enabled": False}, 1, "your server starts when someone else's stops"),
    ],
)
def test_when_no_node_can_be_added_the_page_says_so(
    monkeypatch, hub_settings, autoscaler, workers, said
):
    hub_settings(**autoscaler)
    _swarm(monkeypatch, free_after=10, node="n1", workers=workers)
    node, messages = asyncio.run(_wait_watching_progress(_spawner(start_timeout=30)))
    assert node == "n1"
    assert said in messages[0] and STARTING not in messages[0]


def test_a_server_bigger_than_any_node_is_refused_at_once(monkeypatch, hub_settings):
    asked = _swarm(monkeypatch, free_after=10**6, node=None, mem=8 * GiB)
    sp = _spawner(start_timeout=300, mem_guarantee=12 * GiB)
    with pytest.raises(web.HTTPError) as err:
        asyncio.run(_wait_watching_progress(sp))
    assert err.value.status_code == 503 and len(asked) == 1
    assert "needs 12.0 GiB and 0.5 CPU, more than a whole node has (8.0 GiB, 2 CPU)" in (
        err.value.jupyterhub_message
    )


def test_no_room_before_the_start_timeout_is_a_clear_503(monkeypatch, hub_settings):
    _swarm(monkeypatch, free_after=10**6, node=None)
    sp = _spawner(start_timeout=2, room_margin=1)
    took = []

    async def wait():
        t0 = asyncio.get_running_loop().time()
        try:
            await _wait_watching_progress(sp)
        finally:
            took.append(asyncio.get_running_loop().time() - t0)

    with pytest.raises(web.HTTPError) as err:
        asyncio.run(wait())
    assert err.value.status_code == 503
    message = err.value.jupyterhub_message
    assert "No worker node had room for a server of 2.0 GiB and 0.5 CPU within 2 s" in message
    assert STARTING in message
    assert 0.9 <= took[0] < 2  # start_timeout - room_margin after start()


def test_a_spawn_cancelled_while_choosing_lets_its_room_go(monkeypatch, hub_settings):
    """JupyterHub cancels start() at start_timeout; the choice still running in
    its thread must not keep room held for a server that will never come."""
    ledger = placement.Ledger()
    gate = threading.Event()
    chosen = []

    def slow_snapshot(api):
        gate.wait(5)  # the swarm answers slowly
        node = placement.NodeUsage(
            id="a", hostname="a", instance_id="", role="worker", state="ready",
            availability="active", mem_total=8 * GiB, cpu_total=2.0,
        )  # fmt: skip
        return [node], []

    real_choose = placement.choose

    def recording_choose(*args, **kwargs):
        chosen.append(real_choose(*args, **kwargs))
        return chosen[-1]

    monkeypatch.setattr(placement, "choose", recording_choose)
    monkeypatch.setattr(placement, "snapshot", slow_snapshot)
    monkeypatch.setattr(placement, "LEDGER", ledger)
    sp = _spawner(start_timeout=30)

    async def cancel_mid_choice():
        sp._started_at = asyncio.get_running_loop().time()
        task = asyncio.ensure_future(sp._wait_for_room())
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_mid_choice())
    gate.set()  # the thread finishes its choice now: it found room and held it
    for _ in range(100):
        if chosen and not ledger._held:
            break
        threading.Event().wait(0.05)
    assert chosen == ["a"]
    assert ledger._held == {}
