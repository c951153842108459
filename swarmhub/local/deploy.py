"""`deploy` on the local target: render, then plan or apply what was rendered.

apply: engine up -> swarm (manager on the node bridge) -> overlay network ->
Swarm secrets -> the rendered settings -> worker nodes and the pool agent ->
the proxy and hub services -> wait until the hub answers through the proxy.
Every step checks before it acts, so a second deploy changes nothing; a failed
deploy removes what it made. `plan` renders and compares with what runs,
needing neither root nor a running engine.
"""

from __future__ import annotations

import os
import socket
import time
from contextlib import suppress
from pathlib import Path

from swarmhub.config import Config
from swarmhub.errors import SwarmhubError
from swarmhub.hub import tls
from swarmhub.local import agent, bridge, engine, images, nodes
from swarmhub.local.paths import paths
from swarmhub.local.render import Rendered, host_ip, render, scheme
from swarmhub.run import echo, write_atomic
from swarmhub.swarm import secrets, stack
from swarmhub.swarm.specs import HUB, HUB_PORT, PROXY

_HUB_TIMEOUT = 120.0


def url(cfg: Config) -> str:
    """The hub on this machine, through the proxy."""
    return f"{scheme(cfg)}://127.0.0.1:{cfg.hub.port}"


def verify(cfg: Config) -> str | bool:
    """What requests should trust for our own hub: its self-signed certificate."""
    return str(tls.paths(paths(cfg).hub_state)[1]) if cfg.hub.https == "self-signed" else True


def hub_client(cfg: Config):
    from swarmhub.hubclient import HubClient

    return HubClient(
        url(cfg), token_file=str(paths(cfg).secrets / "swarmhub-cli-token"), verify=verify(cfg)
    )


# --- plan ---------------------------------------------------------------------


def plan(cfg: Config) -> list[str]:
    """What `deploy` would do, one line each; asks the engine only if it can."""
    rendered = render(cfg)
    lines = []
    client = None
    if os.geteuid() != 0:
        why = "not root: what runs cannot be read"
    elif not engine.is_up():
        why = "nothing deployed (the Docker engine is not running)"
    else:
        client = engine.client()
        why = ""
        if client.info()["Swarm"]["LocalNodeState"] != "active":
            why, client = "nothing deployed (no swarm)", None
    if why:
        lines.append(why)
    for spec in rendered.specs:
        what = stack.service_state(client, spec) if client else "create"
        detail = {
            "create": f"create service {spec['name']} ({spec['image']})",
            "replace": f"replace service {spec['name']} (its spec changed)",
            "keep": f"keep service {spec['name']}",
        }[what]
        lines.append(detail)
    have = len(nodes.list_nodes(cfg)) if client else 0
    want = rendered.nodes["workers"]
    lines.append(
        f"start {want - have} worker node(s)" if have < want else f"keep {have} worker node(s)"
    )
    for line in lines:
        print(line)
    return lines


# --- apply --------------------------------------------------------------------


def deploy(cfg: Config, *, plan_only: bool = False) -> None:
    if plan_only:
        plan(cfg)
        return
    from swarmhub import accounts

    if warning := accounts.shared_password_warning(cfg):
        echo(f"warning: {warning}")
    p = paths(cfg)
    supplied = secrets.supplied(cfg)  # before anything is made: a missing one stops here
    engine.ensure_engine()
    p.ensure_state()
    rendered_dir = p.rendered
    render(cfg, images.built_images(cfg)).write(rendered_dir)
    apply(cfg, rendered_dir, supplied)
    print_login(cfg)


def apply(cfg: Config, rendered_dir: Path, supplied: dict[str, str]) -> None:
    """Make the swarm match the files in `rendered_dir`; roll back what this run made."""
    p = paths(cfg)
    r = Rendered.read(rendered_dir)
    client = engine.client()
    made: list[tuple[str, str]] = []  # (kind, name) created by this run, for rollback
    try:
        p.ensure_homes()
        _ensure_swarm(cfg, client, made)
        values = {**secrets.ensure(p.secrets, cfg), **supplied}
        stack.ensure_network(client, cfg.swarm.overlay_subnet, made)
        for name, value in values.items():
            stack.ensure_secret(client, name, value, made)
        _ensure_ports_free(cfg, client)
        p.hub_state.mkdir(parents=True, exist_ok=True)
        write_atomic(p.hub_state / "settings.json", r.settings)
        if cfg.hub.https == "self-signed":
            tls.ensure(p.hub_state, [host_ip(), "127.0.0.1", "localhost"])
        # Nodes and the pool agent before the hub: its autoscaler asks the agent
        # from its first poll on.
        if not agent.running(cfg):
            _ensure_nodes(cfg, r.nodes["images"], r.nodes["workers"], made)
            agent.ensure(cfg)
            made.append(("agent", ""))
        for spec in r.specs:
            stack.ensure_service(client, spec, made)
        _wait_for_hub(cfg, client)
    except BaseException:
        _rollback(cfg, client, made)
        raise


def _ensure_swarm(cfg: Config, client, made) -> None:
    addr = bridge.ensure_bridge(cfg)
    state = client.info()["Swarm"]["LocalNodeState"]
    if state == "active":
        ours = client.info()["Swarm"].get("NodeAddr") == addr
        if not ours:
            raise SwarmhubError(
                "this Docker engine is already in a swarm that swarmhub did not make",
                hint="leave it (docker swarm leave --force) or use another machine",
            )
    else:
        echo(f"swarm: initialising, manager at {addr}")
        client.swarm.init(advertise_addr=addr, listen_addr=f"{addr}:2377")
        made.append(("swarm", ""))
    # The join token goes to the nodes through a 0600 file, as on AWS through SSM.
    token = client.swarm.attrs["JoinTokens"]["Worker"]
    secrets.write(paths(cfg).secrets, "worker-join-token", token)


def _ensure_ports_free(cfg: Config, client) -> None:
    """The ports deploy publishes on this machine: free, or ours already."""
    wanted = {cfg.hub.port: ("hub.port", PROXY), HUB_PORT: ("the hub's API", HUB)}
    for port, (what, owner) in wanted.items():
        ours = False
        for service in client.services.list(filters={"name": owner}):
            ports = service.attrs["Spec"].get("EndpointSpec", {}).get("Ports", [])
            ours = ours or any(p.get("PublishedPort") == port for p in ports)
        if ours:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("0.0.0.0", port))  # noqa: S104 - probing, closed at once
            except OSError:
                hint = "stop it, or set hub.port in the config" if owner == PROXY else "stop it"
                raise SwarmhubError(
                    f"port {port} ({what}) is in use by another program", hint=hint
                ) from None


def _ensure_nodes(cfg: Config, images_: list[str], workers: int, made) -> None:
    # The bridge is up: _ensure_swarm made it (the manager advertises on it).
    for node in nodes.list_nodes(cfg):
        if nodes.dockerd_alive(node):
            continue
        try:  # after a reboot: its data-root still holds its swarm membership
            nodes.resume(cfg, node)
            echo(f"node {node.name}: started again on its data-root")
        except SwarmhubError as exc:
            echo(f"node {node.name}: did not come back ({exc}), replacing it")
            nodes.remove(cfg, node)
    for _ in range(workers - len(nodes.list_nodes(cfg))):
        node = nodes.start(cfg, images_)
        made.append(("node", node.name))


def _wait_for_hub(cfg: Config, client) -> None:
    echo(f"waiting for the hub at {url(cfg)}/hub/health")
    hub = hub_client(cfg)
    deadline = time.monotonic() + _HUB_TIMEOUT
    while time.monotonic() < deadline:
        if hub.healthy():
            return
        time.sleep(1)
    detail = _task_errors(client, HUB) or _task_errors(client, PROXY) or "no task error reported"
    raise SwarmhubError(
        f"the hub did not answer at {url(cfg)} within {_HUB_TIMEOUT:.0f}s: {detail}",
        hint=f"docker service logs {HUB}",
    )


def _task_errors(client, name: str) -> str:
    for service in client.services.list(filters={"name": name}):
        for task in service.tasks():
            err = task["Status"].get("Err")
            if err:
                return f"{name}: {err}"
    return ""


def _rollback(cfg: Config, client, made) -> None:
    if not made:
        return
    echo("deploy failed: removing what this run created")
    stack.rollback(client, [m for m in made if m[0] in ("service", "network", "secret")])
    for kind, name in reversed(made):
        with suppress(Exception):
            if kind == "node":
                for node in nodes.list_nodes(cfg):
                    if node.name == name:
                        nodes.remove(cfg, node)
            elif kind == "agent":
                agent.stop(cfg)
            elif kind == "swarm":
                client.swarm.leave(force=True)
                bridge.remove_bridge()


def print_login(cfg: Config) -> None:
    from swarmhub import accounts

    print(
        f"The hub is up: {scheme(cfg)}://{host_ip()}:{cfg.hub.port}/  "
        f"(on this machine: {url(cfg)}/)"
    )
    for line in accounts.after_deploy(cfg):
        print(line)
    print(f"  API token for scripts: {paths(cfg).secrets}/swarmhub-cli-token")
