"""Profiles: a user picks only from the instructor's list (pure functions, no hub)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from tornado import web

from swarmhub.config import parse_config
from swarmhub.hub import profiles

GiB = 1024**3


def _servers(profile_list):
    return parse_config(
        {"servers": {"mem_limit": "2G", "mem_reservation": "1G", "profiles": profile_list}}, "t"
    ).servers


CHOICES = profiles.choices(
    _servers(
        [
            {"name": "small", "display_name": "Small"},
            {
                "name": "gpu-ish",
                "display_name": "Big <b>one</b>",
                "description": "for the project",
                "image": "nb-big:1",
                "mem_limit": "8G",
                "mem_reservation": "4G",
                "cpu_limit": 4,
            },
            {"name": "tiny", "display_name": "Tiny", "mem_limit": "512M"},
        ]
    ),
    "nb:1",
)


def test_profiles_inherit_the_server_defaults():
    small, big, tiny = CHOICES
    assert (small.image, small.mem_limit, small.mem_reservation) == ("nb:1", 2 * GiB, GiB)
    assert (big.image, big.mem_limit, big.mem_reservation, big.cpu_limit) == (
        "nb-big:1",
        8 * GiB,
        4 * GiB,
        4,
    )
    # A reservation never exceeds the profile's own limit.
    assert tiny.mem_reservation == tiny.mem_limit == 512 * 1024**2


def test_no_profiles_is_one_default_choice_and_no_form():
    only = profiles.choices(_servers([]), "nb:1")
    assert [c.name for c in only] == ["default"]
    assert profiles.form(only) == ""
    assert profiles.resolve({}, only).image == "nb:1"


@pytest.mark.parametrize(
    ("options", "name"), [(None, "small"), ({}, "small"), ({"profile": "gpu-ish"}, "gpu-ish")]
)
def test_resolve_picks_from_the_list(options, name):
    assert profiles.resolve(options, CHOICES).name == name


@pytest.mark.parametrize(
    "options",
    [
        {"profile": "huge"},
        {"image": "evil/miner:latest"},
        {"profile": "small", "image": "nb-big:1"},
        {"profile": ["small"]},
        {"mem_limit": "64G"},
    ],
)
def test_anything_off_the_list_is_refused(options):
    with pytest.raises(ValueError):
        profiles.resolve(options, CHOICES)


def test_form_escapes_and_round_trips():
    html = profiles.form(CHOICES)
    assert "Big &lt;b&gt;one&lt;/b&gt;" in html
    assert html.count('type="radio"') == 3 and html.count("checked") == 1
    assert profiles.from_form({"profile": ["tiny"]}) == {"profile": "tiny"}
    assert profiles.from_form({}) == {}


def test_applier_sets_the_spawner_or_refuses_with_400():
    spawner = SimpleNamespace(user=SimpleNamespace(name="ada"), log=logging.getLogger("t"))
    apply = profiles.applier(CHOICES)
    apply(spawner, {"profile": "gpu-ish"})
    assert (spawner.image, spawner.mem_limit, spawner.cpu_limit) == ("nb-big:1", 8 * GiB, 4)
    # The reservation is what the swarm (and the autoscaler) counts, the limit
    # what the kernel enforces: swapping the two would still start servers.
    big = next(c for c in CHOICES if c.name == "gpu-ish")
    assert big.mem_reservation < big.mem_limit
    assert (spawner.mem_guarantee, spawner.cpu_guarantee) == (
        big.mem_reservation,
        big.cpu_reservation,
    )
    with pytest.raises(web.HTTPError) as e:
        apply(spawner, {"image": "evil/miner"})
    assert e.value.status_code == 400 and "choose a profile" in e.value.jupyterhub_message
