"""Disk quota verdicts and the warning the hub's pages show (no hub, real files)."""

from __future__ import annotations

from types import SimpleNamespace

from swarmhub.config import QuotaConfig
from swarmhub.hub import hubconfig, quota

MiB = 1024**2


def test_judge_messages():
    q = QuotaConfig(soft="10M", hard="20M")
    assert not quota.judge(5 * MiB, q).over_soft
    soft = quota.judge(12 * MiB, q)
    assert soft.over_soft and not soft.over_hard
    assert "warning level of 10M" in soft.message and "at 20M" in soft.message
    hard = quota.judge(25 * MiB, q)
    assert hard.over_hard and "delete at least 5M" in hard.message


def test_notice_reads_only_the_cache(tmp_path):
    home = tmp_path / "ada"
    home.mkdir()
    (home / "big.bin").write_bytes(b"x" * (2 * MiB))
    notice = quota.notice_for(str(tmp_path), QuotaConfig(soft="1M", hard="10M"))
    user = SimpleNamespace(name="ada")
    # Never measured: no walk on a page render, no notice.
    assert notice(user) is None
    assert notice(None) is None
    quota.check(str(home), QuotaConfig(soft="1M", hard="10M"))
    text = notice(user)
    assert text and "over the warning level of 1M" in text
    # Under the soft limit: nothing to show.
    assert quota.notice_for(str(tmp_path), QuotaConfig(soft="5M"))(user) is None


def test_cull_rounds_follow_the_timeout():
    assert hubconfig.cull_every(3600) == 600
    assert hubconfig.cull_every(60) == 15
    # Servers report activity at least once per culler round, never more rarely than 300 s.
    assert hubconfig.activity_interval(60) == 15
    assert hubconfig.activity_interval(86400) == 300


def test_the_spawn_progress_shows_the_soft_limit_warning():
    import asyncio

    from swarmhub.hub.spawner import SwarmhubSpawner

    user = SimpleNamespace(name="ada", url="/user/ada/", escaped_name="ada")
    spawner = SwarmhubSpawner(user=user)
    spawner._quota_checked = True
    spawner._quota_verdict = quota.judge(2 * MiB, QuotaConfig(soft="1M", hard="3M"))

    async def events():
        return [e async for e in spawner.progress()]

    got = asyncio.run(events())
    assert got[0]["message"].startswith("Warning: Your home uses 2M, over the warning level")
    assert len(got) > 1  # the usual events follow
