"""`status` names each server's state as the hub reports it."""

from __future__ import annotations

import pytest

from swarmhub.local.status import _server_state


@pytest.mark.parametrize(
    ("server", "shown"),
    [
        ({}, "stopped"),
        ({"ready": True, "pending": None}, "running"),
        ({"ready": False, "pending": "spawn"}, "starting"),
        ({"ready": False, "pending": "stop"}, "stopping"),
        # The hub restarted and waits for a running server to answer.
        ({"ready": False, "pending": "check"}, "running, not answering yet"),
    ],
)
def test_each_state_the_hub_reports(server, shown):
    assert _server_state(server) == shown
