"""The spawner and the autoscaler agree on a server's reservation (issue 22, item 4).

For random profiles, courses (profiles they claim, lab and exam windows, dates),
group memberships, requests and instants: what the spawner's profile hook sets
(through the hub config as deploy renders it) equals what the autoscaler counts
for the same server while the hub starts it (through service.gather()).
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from unittest import mock

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tornado import web
from traitlets.config import Config as TraitletsConfig

from swarmhub.autoscaler.service import Memory, Starting, gather
from swarmhub.config import parse_config
from swarmhub.hub import hubconfig
from swarmhub.hub.settings import Settings
from tests.helpers import runtime

GiB = 1024**3
BASE = datetime(2026, 10, 5, 0, 0, tzinfo=UTC)  # a Monday
NAMES = ["small", "big", "gpu"]


@st.composite
def profiles(draw):
    out = []
    for name in draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=3)):
        limit = draw(st.sampled_from([None, 1, 2, 4]))
        p = {"name": name, "display_name": name.title()}
        if limit is not None:
            p["mem_limit"] = f"{limit}G"
            if draw(st.booleans()):
                p["mem_reservation"] = f"{draw(st.sampled_from([256, 512, 1024]))}M"
        if draw(st.booleans()):
            p["cpu_limit"] = draw(st.sampled_from([0.5, 1.0, 2.0]))
        out.append(p)
    return out


@st.composite
def window(draw):
    start = draw(st.integers(0, 20))
    return {
        "days": draw(st.lists(st.sampled_from(["mon", "tue", "wed"]), min_size=1, unique=True)),
        "start": f"{start:02d}:00",
        "end": f"{start + draw(st.integers(1, 3)):02d}:00",
        "min_nodes": draw(st.integers(0, 3)),
        "kind": draw(st.sampled_from(["lab", "lecture", "exam"])),
    }


@st.composite
def course(draw, name, names):
    first = date(2026, 10, 5) + timedelta(days=draw(st.integers(-3, 3)))
    return {
        "name": name,
        "roster": ["ada"],
        "timezone": draw(st.sampled_from(["UTC", "Europe/Berlin", "America/Chicago"])),
        "start": first.isoformat(),
        "end": (first + timedelta(days=draw(st.integers(0, 4)))).isoformat(),
        "profiles": draw(st.lists(st.sampled_from(names), unique=True)) if names else [],
        "windows": draw(st.lists(window(), max_size=3)),
    }


@st.composite
def hubs(draw):
    profs = draw(profiles())
    names = [p["name"] for p in profs]
    courses = [draw(course(n, names)) for n in draw(st.sampled_from([[], ["a"], ["a", "b"]]))]
    raw = {
        "servers": {
            "mem_limit": "2G",
            "mem_reservation": draw(st.sampled_from(["512M", "1G", "2G"])),
            "cpu_limit": 1.0,
            "cpu_reservation": draw(st.sampled_from([0.25, 0.5, 1.0])),
            "profiles": profs,
        },
        "courses": courses,
    }
    groups = draw(
        st.lists(
            st.sampled_from(
                [f"course-{c['name']}" for c in courses]
                + [f"course-{c['name']}-staff" for c in courses]
                + ["other"]
            ),
            unique=True,
        )
    )
    asked = draw(st.sampled_from([None, *NAMES, "nope"]))
    options = {} if asked is None else {"profile": asked}
    now = BASE + timedelta(minutes=draw(st.integers(-3 * 1440, 8 * 1440)))
    return raw, groups, options, now


def spawner_view(s: Settings, groups, options, now):
    """What the profile hook, as hubconfig installs it, sets on the spawner."""
    with mock.patch("swarmhub.config.courses.utcnow", lambda: now):
        c = TraitletsConfig()
        hubconfig.configure(c, s)
        hook = c.SwarmhubSpawner.apply_user_options
    sp = SimpleNamespace(
        user=SimpleNamespace(name="ada", groups=[SimpleNamespace(name=g) for g in groups]),
        log=logging.getLogger("test"),
    )
    try:
        hook(sp, options)
    except web.HTTPError:
        return None  # refused: no server, nothing to count
    return sp.mem_guarantee, sp.cpu_guarantee


class _EmptySwarm:
    def nodes(self):
        return []

    def services(self, filters=None):
        return []

    def tasks(self, filters=None):
        return []

    def info(self):
        return {"MemTotal": 16 * GiB, "NCPU": 8}


class _NoPool:
    def list_nodes(self):
        return []

    def get_desired(self):
        return 0


def autoscaler_view(s: Settings, groups, options, now):
    """What the autoscaler counts for the server the hub is starting."""
    starting = Starting({"ada": options}, groups={"ada": list(groups)})
    state = gather(s, _EmptySwarm(), _NoPool(), Memory(started=now), starting, now)
    (server,) = state.servers
    return server.mem, server.cpu


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hubs())
def test_spawner_and_autoscaler_agree_on_a_servers_reservation(case):
    raw, groups, options, now = case
    config = parse_config(raw, "swarmhub.yaml")
    s = Settings(config, runtime())
    spawned = spawner_view(s, groups, options, now)
    assume(spawned is not None)
    assert autoscaler_view(s, groups, options, now) == spawned
