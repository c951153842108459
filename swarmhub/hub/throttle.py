"""Failed sign-ins, throttled per user and per address, without a lock-out.

A password check costs ~0.3 s of CPU and 32 MiB (scrypt): unthrottled, a few
clients guessing starve the hub. NativeAuthenticator's answer
(`allowed_failed_logins`, `seconds_before_next_try`) blocks a *user name*
after N failures, from anywhere: anyone can then lock a student out by typing
wrong passwords in their name. Here failures are counted per (user, address),
as most sign-in forms do; a user name alone is only closed to the addresses
that have failed for it, so a student at their own machine still gets in:

- a (user, address) pair with `pair_limit` failures within `window` waits,
  from 30 s doubling up to `max_wait`, before its next try;
- an address with `address_limit` failures (any names) waits the same way:
  one client spraying names;
- a name with `user_limit` failures (any addresses) accepts tries only from
  addresses that have not failed for it twice: many clients guessing one name;
- at most `concurrent` checks run at once (the rest queue, briefly).

A refused try costs no scrypt. Pure bookkeeping with an injected clock; the
authenticator (swarmhub.hub.auth) asks `wait` before it checks a password and
tells `failed` / `succeeded` after.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Throttle:
    window: float = 900.0
    pair_limit: int = 5
    address_limit: int = 100
    user_limit: int = 20
    first_wait: float = 30.0
    max_wait: float = 900.0
    clock: Callable[[], float] = time.monotonic
    _fails: dict = field(default_factory=dict)
    _count: int = 0

    def wait(self, user: str, address: str) -> float:
        """Seconds before this user may try from this address; 0: go ahead."""
        now = self.clock()
        pair = self._recent(("pair", user, address), now)
        waits = [self._wait(pair, self.pair_limit, now)]
        waits.append(self._wait(self._recent(("address", address), now), self.address_limit, now))
        if len(self._recent(("user", user), now)) >= self.user_limit and len(pair) >= 2:
            waits.append(self._wait(pair, 2, now))
        return max(waits)

    def failed(self, user: str, address: str) -> None:
        now = self.clock()
        for key in (("pair", user, address), ("address", address), ("user", user)):
            self._recent(key, now)
            self._fails.setdefault(key, deque()).append(now)
        self._count += 1
        if self._count % 256 == 0:
            self.prune()

    def prune(self) -> None:
        """Forget every failure older than the window (memory: recent ones only)."""
        now = self.clock()
        for key in list(self._fails):
            self._recent(key, now)

    def succeeded(self, user: str, address: str) -> None:
        """The right password from here: this pair starts afresh."""
        self._fails.pop(("pair", user, address), None)

    def _recent(self, key: tuple, now: float):
        """The failures of `key` within the window (old ones dropped: memory stays
        bounded by the recent failures)."""
        times = self._fails.get(key)
        if times is None:
            return ()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._fails[key]
            return ()
        return times

    def _wait(self, times, limit: int, now: float) -> float:
        """0 below `limit` failures; else first_wait doubling per failure over
        the limit (up to max_wait), counted from the last failure."""
        if len(times) < limit:
            return 0.0
        wait = min(self.max_wait, self.first_wait * 2 ** (len(times) - limit))
        return max(0.0, times[-1] + wait - now)
