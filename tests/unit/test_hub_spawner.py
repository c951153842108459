"""SwarmhubSpawner waiting for room: what a student sees while every node is full.

The swarm is replaced at one boundary, `placement.choose` (which node fits, read
from the swarm); the spawner's waiting, its progress events and its error run
for real.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from tornado import web

from swarmhub.hub import placement
from swarmhub.hub.spawner import SwarmhubSpawner

GiB = 1024**3


class _Spawner(SwarmhubSpawner):
    client = None  # never reached: placement.choose is replaced


def _spawner(**traits) -> _Spawner:
    user = SimpleNamespace(name="ada", id=1, url="/user/ada/")
    sp = _Spawner(user=user, mem_guarantee=2 * GiB, cpu_guarantee=0.5, room_poll=0.05, **traits)
    sp._quota_checked, sp._placed = True, False  # as start() and the quota check leave it
    return sp


def _nodes_free_after(monkeypatch, polls: int, node: str | None) -> list:
    asked = []

    def choose(api, mem, cpu, key=""):
        asked.append((mem, cpu, key))
        return node if len(asked) > polls else None

    monkeypatch.setattr(placement, "choose", choose)
    return asked


async def _progress_until_placed(sp, wait):
    messages = []

    async def watch():
        async for event in sp.progress():
            messages.append(event["message"])

    watcher = asyncio.ensure_future(watch())
    try:
        return await wait, messages
    finally:
        sp._placed = True
        await asyncio.wait_for(watcher, 5)


def test_a_spawn_waits_for_a_node_with_room_and_says_so(monkeypatch):
    asked = _nodes_free_after(monkeypatch, polls=10, node="n2")
    sp = _spawner(start_timeout=30)
    node, messages = asyncio.run(_progress_until_placed(sp, sp._wait_for_room()))
    assert node == "n2"
    assert asked[0] == (2 * GiB, 0.5, "jupyter-ada") and len(asked) == 11
    assert [m for m in messages if "a new one is starting" in m] == [messages[0]]
    assert not sp._waiting_for_room


def test_a_node_with_room_at_once_means_no_waiting_message(monkeypatch):
    _nodes_free_after(monkeypatch, polls=0, node="n1")
    sp = _spawner(start_timeout=30)
    node, messages = asyncio.run(_progress_until_placed(sp, sp._wait_for_room()))
    assert node == "n1" and not any("a new one is starting" in m for m in messages)


def test_no_room_before_the_start_timeout_is_a_clear_503(monkeypatch):
    _nodes_free_after(monkeypatch, polls=10**6, node=None)
    sp = _spawner(start_timeout=2, room_margin=1)
    loop_time = []

    async def wait():
        t0 = asyncio.get_running_loop().time()
        try:
            await sp._wait_for_room()
        finally:
            loop_time.append(asyncio.get_running_loop().time() - t0)

    with pytest.raises(web.HTTPError) as err:
        asyncio.run(wait())
    assert err.value.status_code == 503
    assert "No worker node had room for a server of 2.0 GiB and 0.5 CPU within 2 s" in (
        err.value.jupyterhub_message
    )
    assert 0.9 <= loop_time[0] < 2  # gives up start_timeout - room_margin in
