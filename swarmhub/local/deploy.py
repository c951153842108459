"""`deploy`, `status` and `destroy` on the local target.

deploy: engine up -> swarm (manager on the node bridge) -> overlay network ->
Swarm secrets -> settings -> proxy and hub services -> worker nodes -> wait
until the hub answers through the proxy. Every step checks before it acts, so
a second deploy changes nothing; a failed deploy removes what it made.
"""

from __future__ import annotations

import socket
import time
from contextlib import suppress

from swarmhub.config import Config
from swarmhub.errors import SwarmhubError
from swarmhub.hub import tls
from swarmhub.hub.settings import Runtime, render
from swarmhub.local import agent, engine, images, nodes
from swarmhub.local.paths import paths
from swarmhub.run import echo
from swarmhub.swarm import labels, secrets, stack
from swarmhub.swarm import specs as services
from swarmhub.swarm.specs import HUB, NETWORK, PROXY

_HUB_TIMEOUT = 120.0


def _scheme(cfg: Config) -> str:
    return "https" if cfg.hub.https == "self-signed" else "http"


def _url(cfg: Config) -> str:
    return f"{_scheme(cfg)}://127.0.0.1:{cfg.hub.port}"


def _verify(cfg: Config) -> str | bool:
    """What requests should trust for our own hub: its self-signed certificate."""
    return str(tls.paths(paths(cfg).hub_state)[1]) if cfg.hub.https == "self-signed" else True


# --- deploy -------------------------------------------------------------------


def deploy(cfg: Config, *, plan_only: bool = False) -> None:
    p = paths(cfg)
    supplied = secrets.supplied(cfg)  # before anything is made: a missing one stops here
    engine.ensure_engine(str(p.state))
    tags = images.built_images(cfg)
    client = engine.client()
    made: list[tuple[str, str]] = []  # (kind, name) created by this run, for rollback
    try:
        if plan_only:
            _plan(cfg, client, tags)
            return
        _ensure_swarm(cfg, client, made)
        values = {**secrets.ensure(p.secrets), **supplied}
        stack.ensure_network(client, cfg.swarm.overlay_subnet, made)
        for name, value in values.items():
            stack.ensure_secret(client, name, value, made)
        _ensure_port_free(cfg, client)
        _write_settings(cfg, tags)
        if cfg.hub.https == "self-signed":
            tls.ensure(p.hub_state, [_host_ip(), "127.0.0.1", "localhost"])
        for spec in _specs(cfg, tags):
            stack.ensure_service(client, spec, made)
        if not agent.running(cfg):
            _ensure_nodes(cfg, tags, made)
        agent.ensure(cfg)
        _wait_for_hub(cfg, client)
    except BaseException:
        _rollback(cfg, client, made)
        raise
    p.homes.mkdir(parents=True, exist_ok=True)
    _print_login(cfg)


def _plan(cfg: Config, client, tags: dict[str, str]) -> None:
    for spec in _specs(cfg, tags):
        what = stack.service_state(client, spec)
        if what == "create":
            print(f"create service {spec['name']} ({spec['image']})")
        elif what == "replace":
            print(f"replace service {spec['name']} (its spec changed)")
        else:
            print(f"keep service {spec['name']}")
    have = len(nodes.list_nodes(cfg))
    if have < cfg.local.workers:
        print(f"start {cfg.local.workers - have} worker node(s)")
    else:
        print(f"keep {have} worker node(s)")


def _ensure_swarm(cfg: Config, client, made) -> None:
    addr = nodes.ensure_bridge(cfg)
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


def _write_settings(cfg: Config, tags: dict[str, str]) -> None:
    p = paths(cfg)
    p.hub_state.mkdir(parents=True, exist_ok=True)
    p.homes.mkdir(parents=True, exist_ok=True)
    runtime = Runtime(
        target="local",
        network=NETWORK,
        hub_service=HUB,
        proxy_service=PROXY,
        notebook_image=tags["notebook"],
        hub_image=tags["hub"],
        homes_host_dir=str(p.homes),
        public_url=f"{_scheme(cfg)}://{_host_ip()}:{cfg.hub.port}/",
        pool_url=f"http://{nodes.manager_address(cfg)}:{agent.PORT}",
    )
    text = render(cfg, runtime) + "\n"
    target = p.hub_state / "settings.json"
    if not target.exists() or target.read_text() != text:
        target.write_text(text)


def _host_ip() -> str:
    with suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # TEST-NET: no packet is sent for a UDP connect
        return s.getsockname()[0]
    return "127.0.0.1"


def _ensure_port_free(cfg: Config, client) -> None:
    for service in client.services.list(filters={"name": PROXY}):
        ports = service.attrs["Spec"].get("EndpointSpec", {}).get("Ports", [])
        if any(p.get("PublishedPort") == cfg.hub.port for p in ports):
            return  # it is ours already
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", cfg.hub.port))  # noqa: S104 - probing, closed at once
        except OSError:
            raise SwarmhubError(
                f"port {cfg.hub.port} is in use by another program",
                hint="stop it, or set hub.port in the config",
            ) from None


def _specs(cfg: Config, tags: dict[str, str]) -> tuple[dict, dict]:
    """The proxy and hub specs on this machine (see swarmhub.swarm.specs)."""
    p = paths(cfg)
    settings = p.hub_state / "settings.json"
    return services.specs(
        image=tags["hub"],
        hub_state=p.hub_state,
        homes=str(p.homes),
        settings_text=settings.read_text() if settings.exists() else "",
        port=cfg.hub.port,
        hub_secrets=secrets.hub_secrets(cfg),
    )


def _ensure_nodes(cfg: Config, tags: dict[str, str], made) -> None:
    have = nodes.list_nodes(cfg)
    for node in have:
        if not nodes.dockerd_alive(node):
            echo(f"node {node.name}: its dockerd is gone, replacing the node")
            nodes.remove(cfg, node)
    alive = [n for n in nodes.list_nodes(cfg)]
    for _ in range(cfg.local.workers - len(alive)):
        node = nodes.start(cfg, list(tags.values()))
        made.append(("node", node.name))


def _wait_for_hub(cfg: Config, client) -> None:
    import requests

    url = f"{_url(cfg)}/hub/health"
    echo(f"waiting for the hub at {url}")
    deadline = time.monotonic() + _HUB_TIMEOUT
    while time.monotonic() < deadline:
        with suppress(requests.RequestException):
            if requests.get(url, timeout=3, verify=_verify(cfg)).status_code == 200:
                return
        time.sleep(1)
    detail = _task_errors(client, HUB) or _task_errors(client, PROXY) or "no task error reported"
    raise SwarmhubError(
        f"the hub did not answer at {url} within {_HUB_TIMEOUT:.0f}s: {detail}",
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
                nodes.remove_bridge()


def _print_login(cfg: Config) -> None:
    p = paths(cfg)
    auth = cfg.hub.auth
    print(
        f"The hub is up: {_scheme(cfg)}://{_host_ip()}:{cfg.hub.port}/  "
        f"(on this machine: {_url(cfg)}/)"
    )
    if auth.kind == "shared-password":
        admins = ", ".join(auth.admin_users)
        print(f"  admin users ({admins}): password in {p.secrets}/swarmhub-admin-password")
        print(f"  students (any user name): class password in {p.secrets}/swarmhub-user-password")
    else:
        print("  sign in with GitHub")
    print(f"  API token for scripts: {p.secrets}/swarmhub-cli-token")


# --- status -------------------------------------------------------------------


def hub_api(cfg: Config, path: str, method: str = "GET", **kwargs):
    import requests

    token = (paths(cfg).secrets / "swarmhub-cli-token").read_text().strip()
    return requests.request(
        method,
        f"{_url(cfg)}/hub/api{path}",
        headers={"Authorization": f"token {token}"},
        timeout=10,
        verify=_verify(cfg),
        **kwargs,
    )


def status(cfg: Config) -> None:
    import requests

    from swarmhub.swarm.state import snapshot

    engine.require_root()
    if not engine.is_up():
        raise SwarmhubError("the Docker engine is not running", hint="python pipeline.py deploy")
    client = engine.client()
    if client.info()["Swarm"]["LocalNodeState"] != "active":
        raise SwarmhubError("nothing is deployed (no swarm)", hint="python pipeline.py deploy")
    try:
        healthy = (
            requests.get(f"{_url(cfg)}/hub/health", timeout=5, verify=_verify(cfg)).status_code
            == 200
        )
    except requests.RequestException:
        healthy = False
    print(
        f"hub      {_scheme(cfg)}://{_host_ip()}:{cfg.hub.port}/  "
        f"{'healthy' if healthy else 'NOT ANSWERING'}"
    )
    workers, pending = snapshot(client.api)
    print(f"nodes    {len(workers)} worker(s), {len(pending)} server(s) waiting for room")
    for n in sorted(workers, key=lambda n: n.hostname):
        print(
            f"  {n.instance_id or n.hostname:<20} {n.state:<8} {n.availability:<7} "
            f"servers={len(n.user_servers):<3} reserved={n.mem_reserved / 2**30:.1f}/"
            f"{n.mem_total / 2**30:.1f}GiB {n.cpu_reserved:.2f}/{n.cpu_total:.0f}cpu"
        )
    if healthy:
        users = hub_api(cfg, "/users").json()
        print(f"users    {len(users)}")
        for u in users:
            server = u.get("servers", {}).get("", {})
            state = "running" if server.get("ready") else ("starting" if server else "stopped")
            print(f"  {u['name']:<20} {'admin ' if u.get('admin') else ''}{state}")


# --- destroy ------------------------------------------------------------------


def destroy(cfg: Config, *, purge: bool = False) -> None:
    import shutil

    p = paths(cfg)
    engine.require_root()
    agent.stop(cfg)  # first, so it does not replace the nodes we remove
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
        if client.info()["Swarm"].get("NodeAddr") == nodes.manager_address(cfg):
            echo("leaving the swarm")
            client.swarm.leave(force=True)
    nodes.remove_bridge()
    # Every node is gone, so is the pool's count: a new deploy starts afresh.
    (p.state / "pool.json").unlink(missing_ok=True)
    if purge:
        for path in (p.homes, p.hub_state, p.secrets, p.image_cache, p.nodes, p.state / "golden"):
            shutil.rmtree(path, ignore_errors=True)
        echo(f"purged homes ({p.homes}) and hub state")
    else:
        echo(f"homes kept in {p.homes} (destroy --purge deletes them)")


def _remove_network(network) -> None:
    # User server containers may take a moment to go after their services.
    for _ in range(30):
        try:
            network.remove()
            return
        except Exception:
            time.sleep(1)
    raise SwarmhubError(f"network {network.name} is still in use")
