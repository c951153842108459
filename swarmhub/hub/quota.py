"""Disk quotas on the shared home (EFS has none of its own).

Usage is measured for one home at a time, when that user spawns, and cached
for `CACHE_SECONDS` in a file beside the home (not in it, so the user cannot
edit it); no request ever walks every home. The spawner refuses a spawn over
the hard limit (403 with how much to delete) and puts the soft-limit warning
into the spawn's progress events; the hub's home and spawn pages show it too,
from the cache only (`notice_for`). docs/decisions/0007-disk-quotas.md says why.
"""

from __future__ import annotations

import html
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from swarmhub.config import QuotaConfig
from swarmhub.config.types import format_size
from swarmhub.run import write_atomic

CACHE_SECONDS = 300


@dataclass(frozen=True)
class Verdict:
    used: int
    over_soft: bool
    over_hard: bool
    message: str


def usage(path: str) -> int:
    """Bytes used under `path` (allocated blocks; hard links counted once)."""
    total = 0
    seen: set[tuple[int, int]] = set()
    stack = [path]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            key = (st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
            total += st.st_blocks * 512
    return total


def _cache_path(home: str) -> str:
    parent, name = os.path.split(home.rstrip("/"))
    return os.path.join(parent, ".swarmhub-usage", name + ".json")


def measured(home: str, *, max_age: float = CACHE_SECONDS, now: float | None = None) -> int:
    now = time.time() if now is None else now
    cache = _cache_path(home)
    try:
        with open(cache) as f:
            data = json.load(f)
        if now - data["at"] < max_age:
            return int(data["used"])
    except (FileNotFoundError, ValueError, KeyError):
        pass
    used = usage(home)
    os.makedirs(os.path.dirname(cache), mode=0o700, exist_ok=True)
    write_atomic(cache, json.dumps({"at": now, "used": used}), 0o600)
    return used


def cached(home: str) -> int | None:
    """The last measured usage of `home`, without walking it; None if never measured."""
    try:
        with open(_cache_path(home)) as f:
            return int(json.load(f)["used"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


def judge(used: int, quota: QuotaConfig) -> Verdict:
    """The verdict on `used` bytes under `quota`, with the message the user reads."""
    over_hard = quota.hard is not None and used > quota.hard
    over_soft = quota.soft is not None and used > quota.soft
    if over_hard:
        message = (
            f"Your home uses {format_size(used)}, over the limit of {format_size(quota.hard)}: "
            f"delete at least {format_size(used - quota.hard)} to start your server "
            "(ask an instructor if you cannot reach your files)."
        )
    elif over_soft:
        limit = format_size(quota.hard) if quota.hard else "the hard limit"
        message = (
            f"Your home uses {format_size(used)}, over the warning level of "
            f"{format_size(quota.soft)}; at {limit} your server will not start."
        )
    else:
        message = f"Your home uses {format_size(used)}."
    return Verdict(used=used, over_soft=over_soft, over_hard=over_hard, message=message)


def check(home: str, quota: QuotaConfig, *, max_age: float = CACHE_SECONDS) -> Verdict | None:
    """None when no quota is set; otherwise the verdict with a message for the user."""
    if quota.soft is None and quota.hard is None:
        return None
    # Near or over a limit, measure afresh: the user may just have cleaned up.
    used = measured(home, max_age=max_age)
    if quota.hard is not None and used >= quota.hard * 0.9:
        used = measured(home, max_age=0)
    return judge(used, quota)


def notice_for(homes_dir: str, quota: QuotaConfig) -> Callable:
    """A JupyterHub `template_vars` value: the signed-in user's quota warning, or None.

    Called on every page render, so it reads the cache only and never walks a home.
    """

    def notice(user) -> str | None:
        if user is None:
            return None
        used = cached(os.path.join(homes_dir, user.name))
        if used is None:
            return None
        verdict = judge(used, quota)
        if not (verdict.over_soft or verdict.over_hard):
            return None
        # Templates render announcements unescaped.
        return html.escape(verdict.message)

    return notice
