"""Operations on swarm nodes, through a manager's low-level Docker API (`docker.APIClient`).

The autoscaler, the local node pool and the lifecycle handler change nodes
only through these: availability (with its retry), the user servers a node
still hosts, and removing a node from the swarm.
"""

from __future__ import annotations

import time

from swarmhub.swarm.state import live_user_tasks, owners


def set_availability(api, node_id: str, value: str, attempts: int = 3) -> None:
    """active | pause | drain.

    Re-reads and retries when someone else changed the node in between
    ("update out of sequence"); a node already at `value` is left alone.
    """
    from docker.errors import APIError

    for attempt in range(attempts):
        node = api.inspect_node(node_id)
        if node["Spec"].get("Availability") == value:
            return
        try:
            api.update_node(
                node_id, node["Version"]["Index"], {**node["Spec"], "Availability": value}
            )
            return
        except APIError as exc:
            if "out of sequence" not in str(exc) or attempt == attempts - 1:
                raise


def user_servers_on(api, node_id: str) -> list[str]:
    """The users whose server has a live task on the node.

    Reads that node's user tasks only (and the services not seen before), so a
    drain's wait costs what the node hosts, not what the whole swarm does.
    """
    tasks = live_user_tasks(api, node_id)
    return sorted(set(owners(api, {t["ServiceID"] for t in tasks}).values()))


def is_ready(api, node_id: str) -> bool:
    """The manager sees the node Ready (not down, not disconnected)."""
    from docker.errors import APIError

    try:
        return api.inspect_node(node_id)["Status"]["State"] == "ready"
    except APIError:
        return False


def remove(api, node_id: str, timeout: float = 10.0) -> bool:
    """`docker node rm --force`; True once the node is gone (or was already).

    A node that has just left is still "ready" in the manager's books for a
    moment, and removal is refused until it is seen down: retried until
    `timeout`. False if it is still there then.
    """
    from docker.errors import APIError, NotFound

    deadline = time.monotonic() + timeout
    while True:
        try:
            api.remove_node(node_id, force=True)
            return True
        except NotFound:
            return True
        except APIError as exc:
            if exc.status_code == 503:  # no swarm here any more: nothing to remove
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)
