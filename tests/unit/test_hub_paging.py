"""Lists read from the hub's API cover every user, past the hub's page limit.

JupyterHub answers GET /users with at most api_page_max_limit (200) items and,
unless the client asks for pages, says nothing of the rest: at 450 active
users the autoscaler saw 200 and missed the spawns of the others."""

from __future__ import annotations

import json

import requests

from swarmhub.autoscaler.service import hub_starting
from swarmhub.hubclient import HubClient

PAGE_MAX = 200  # JupyterHub's default api_page_max_limit


class FakeHub(requests.Session):
    """The one boundary: the hub's /users as JupyterHub 5/6 pages it."""

    def __init__(self, users: list[dict]):
        super().__init__()
        self.hub_users, self.calls = users, 0

    def request(self, method, url, params=None, headers=None, **kw):
        self.calls += 1
        params = params or {}
        offset = int(params.get("offset", 0))
        limit = min(int(params.get("limit", PAGE_MAX)), PAGE_MAX)
        page = self.hub_users[offset : offset + limit]
        if (headers or {}).get("Accept") == "application/jupyterhub-pagination+json":
            more = offset + limit < len(self.hub_users)
            body = {
                "items": page,
                "_pagination": {
                    "offset": offset,
                    "limit": limit,
                    "total": len(self.hub_users),
                    "next": {"offset": offset + limit, "limit": limit} if more else None,
                },
            }
        else:
            body = page
        r = requests.Response()
        r.status_code, r._content = 200, json.dumps(body).encode()
        return r


def _users(n: int, pending: set[int]) -> list[dict]:
    return [
        {
            "name": f"s{i:04}",
            "groups": [],
            "servers": {"": {"pending": "spawn" if i in pending else None, "user_options": {}}},
        }
        for i in range(n)
    ]


def test_the_autoscaler_sees_a_spawn_past_the_hubs_page_limit():
    hub = FakeHub(_users(450, pending={5, 420}))
    starting = hub_starting(hub, "http://hub/hub/api")
    assert sorted(starting) == ["s0005", "s0420"]
    assert hub.calls == 3


def test_status_lists_every_user_past_the_page_limit():
    client = HubClient(url="http://hub", token="t")
    client._session = FakeHub(_users(450, pending=set()))
    assert len(client.users()) == 450
