"""The local node pool: the autoscaler's client of the pool agent (swarmhub.local.agent).

Same contract as the ASG pool; the agent on the node bridge does the work.
"""

from __future__ import annotations

import requests

from swarmhub.autoscaler.pools.base import PoolNode, PoolNodeState
from swarmhub.errors import SwarmhubError


class LocalPool:
    def __init__(self, url: str, token: str, timeout: float = 120.0):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.timeout = timeout

    def _call(self, method: str, path: str, **kwargs):
        try:
            r = self.session.request(method, self.url + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise SwarmhubError(
                f"the local pool agent at {self.url} does not answer: {exc}"
            ) from None
        if r.status_code == 401:
            raise SwarmhubError(f"the local pool agent at {self.url} refused the pool token")
        return r

    def list_nodes(self) -> list[PoolNode]:
        out = []
        for n in self._call("GET", "/nodes").json():
            state = PoolNodeState.parse(n["state"])
            out.append(PoolNode(n["id"], n.get("swarm_id"), state, bool(n.get("protected"))))
        return out

    def get_desired(self) -> int:
        return int(self._call("GET", "/desired").json()["desired"])

    def set_desired(self, n: int) -> None:
        self._call("PUT", "/desired", json={"desired": n}).raise_for_status()

    def protect(self, node_id: str) -> None:
        self._call("POST", f"/nodes/{node_id}/protect").raise_for_status()

    def unprotect(self, node_id: str) -> None:
        self._call("POST", f"/nodes/{node_id}/unprotect").raise_for_status()

    def remove(self, node_id: str) -> None:
        r = self._call("DELETE", f"/nodes/{node_id}")
        if r.status_code not in (200, 404):  # already gone is fine
            r.raise_for_status()
