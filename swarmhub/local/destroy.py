"""`destroy` on the local target: remove every service, node, network and secret
deploy made; with `--purge` also the homes and the state, but only directories
swarmhub itself created (they carry its mark, see swarmhub.local.paths).

Archives are never purged: their default place is beside the state, not in it
(`Paths.archives`), and a purge that would delete archives left in the old
place inside the state is refused before anything is removed."""

from __future__ import annotations

import shutil
import time

from swarmhub.config import Config
from swarmhub.errors import SwarmhubError
from swarmhub.local import agent, bridge, engine, nodes
from swarmhub.local.paths import paths
from swarmhub.run import echo
from swarmhub.swarm import labels, stack
from swarmhub.swarm.specs import HUB, NETWORK, PROXY


def purge_refusal(cfg: Config) -> str | None:
    """Why `--purge` must not run for `cfg`, or None. Checked before anything is removed."""
    from swarmhub.config.paths_safety import check_purge

    p = paths(cfg)
    problems = check_purge(str(p.state), str(p.homes))
    if problems:
        return "; ".join(problems)
    for root, role in ((p.homes, "local.homes_dir"), (p.state, "local.state_dir")):
        if root.exists() and not p.owned(root):
            return (
                f"{role} {root} was not made by swarmhub (no {root}/.swarmhub-owned): "
                "destroy --purge removes only what deploy made; delete it yourself if you mean it"
            )
    if _holds_files(p.old_archives):
        return (
            f"{p.old_archives} holds archives (archive's old default place, inside the "
            f"state that --purge deletes): move them out first, e.g. "
            f"`mv {p.old_archives} {p.archives}` (restore --from DIR reads them anywhere)"
        )
    return None


def purge_roots(cfg: Config) -> None:
    """Delete the homes and the state (purge_refusal said yes), then say what stays."""
    p = paths(cfg)
    if why := purge_refusal(cfg):  # again: archives may have landed meanwhile
        raise SwarmhubError(f"refusing --purge: {why}")
    for root in (p.homes, p.state):
        if root.exists():
            echo(f"purging {root}")
            shutil.rmtree(root)
    echo(kept_after_purge(cfg))


def _holds_files(root) -> bool:
    return root.is_dir() and any(f.is_file() for f in root.rglob("*"))


def kept_after_purge(cfg: Config) -> str:
    """What `destroy --purge` leaves, said after it: the archives."""
    where = paths(cfg).archives
    if _holds_files(where):
        return f"archives kept in {where} (destroy never deletes them; remove them yourself)"
    return f"no archives in {where} (archive's default place; destroy never deletes it)"


def destroy(cfg: Config, *, purge: bool = False) -> None:
    p = paths(cfg)
    engine.require_root()
    if purge and (why := purge_refusal(cfg)):
        raise SwarmhubError(f"refusing --purge: {why}")
    agent.stop(cfg, uninstall=True)  # first, so it does not replace the nodes we remove
    client = engine.client() if engine.is_up() else None
    in_swarm = client is not None and client.info()["Swarm"]["LocalNodeState"] == "active"
    if in_swarm:
        for service in client.services.list():
            spec_labels = service.attrs["Spec"].get("Labels", {})
            if spec_labels.get(labels.MANAGED) == "true" or spec_labels.get(labels.USER_SERVER):
                echo(f"removing service {service.name}")
                service.remove()
        for name in (HUB, PROXY):
            stack.wait_gone(client, name)
    for node in nodes.list_nodes(cfg):
        echo(f"removing node {node.name}")
        nodes.remove(cfg, node, drain_timeout=10 if in_swarm else 0)
    if in_swarm:
        for network in client.networks.list(names=[NETWORK]):
            _remove_network(network)
        for secret in client.secrets.list(filters={"label": labels.MANAGED}):
            secret.remove()
        if client.info()["Swarm"].get("NodeAddr") == bridge.manager_address(cfg):
            echo("leaving the swarm")
            client.swarm.leave(force=True)
    bridge.remove_bridge()
    # Every node is gone, so is the pool's count: a new deploy starts afresh.
    p.pool_file.unlink(missing_ok=True)
    if purge:
        purge_roots(cfg)
    else:
        echo(f"homes kept in {p.homes} (destroy --purge deletes them)")


def _remove_network(network) -> None:
    # User server containers may take a moment to go after their services.
    deadline = time.monotonic() + 30
    while True:
        try:
            network.remove()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise SwarmhubError(f"network {network.name} is still in use after 30 s") from None
            time.sleep(1)
