"""A real local stack for the integration tests: bake, deploy, and destroy at the end.

One stack per test session (bake builds nothing when the images exist). It
uses its own state directory and port, and removes everything it made,
homes included, when the session ends.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import require_tool
from tests.integration.stack import Stack, cli, wait_for

STATE_DIR = Path("/var/lib/swarmhub-test")
PORT = 18000


def stack_config(tmp: Path, **overrides) -> Path:
    config = {
        "hub": {"port": PORT},
        "servers": {"mem_reservation": "256M", "mem_limit": "1G", "cpu_reservation": 0.1},
        "autoscaler": {"enabled": False},
        "local": {
            "state_dir": str(STATE_DIR),
            "homes_dir": str(STATE_DIR / "homes"),
            "workers": 1,
        },
    }
    for key, value in overrides.items():
        config.setdefault(key, {}).update(value)
    path = tmp / "swarmhub.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Stack:
    if os.geteuid() != 0:
        pytest.skip("the local target needs root")
    require_tool("dockerd")
    require_tool("debootstrap")
    config = stack_config(tmp_path_factory.mktemp("stack"))
    cli("bake", config=config)
    cli("deploy", config=config)
    yield Stack(config=config, state_dir=STATE_DIR, homes_dir=STATE_DIR / "homes", port=PORT)
    cli("destroy", "--purge", "--yes", config=config, check=False)


@dataclass
class Worker:
    name: str
    instance_id: str
    docker_host: str
    swarm_node_id: str
    node: object


@pytest.fixture
def local_worker(stack: Stack):
    """A worker node of its own for one test: started, joined, removed afterwards."""
    from swarmhub.config import load_config
    from swarmhub.local import images, nodes

    cfg = load_config(stack.config)
    node = nodes.start(cfg, [images.built_images(cfg)["notebook"]])
    try:
        yield Worker(
            name=node.name,
            instance_id=node.instance_id,
            docker_host=node.docker_host,
            swarm_node_id=nodes.swarm_node_id(node),
            node=node,
        )
    finally:
        nodes.remove(cfg, node, drain_timeout=10)


def scaling_config(stack: Stack) -> dict:
    """The stack's config with the autoscaler on, two servers to a node and short
    cooldowns (each local node offers this machine's memory)."""
    import docker

    host_mem = docker.from_env().info()["MemTotal"]
    per_server = f"{host_mem * 2 // 5 // 2**20}M"  # two fit on a node, a third does not
    config = yaml.safe_load(stack.config.read_text())
    config["servers"] = {
        "mem_reservation": per_server,
        "mem_limit": per_server,
        "cpu_reservation": 0.1,
    }
    config["autoscaler"] = {
        "enabled": True,
        "min_nodes": 1,
        "max_nodes": 3,
        "headroom_slots": 0,
        "scale_in_cooldown": 15,
        "scale_out_cooldown": 0,
        "node_boot_seconds": 15,
        "poll_interval": 3,
    }
    return config


@contextlib.contextmanager
def redeployed(stack: Stack, path: Path, config: dict):
    """The stack re-deployed with `config` for a while, then put back as it was."""
    path.write_text(yaml.safe_dump(config))
    cli("deploy", config=path)
    changed = Stack(path, stack.state_dir, stack.homes_dir, stack.port)
    wait_for(changed.answers_api, 90, "the hub's API after the re-deploy")
    since = time.time()
    try:
        yield changed
    except BaseException:
        # Restoring the config replaces the hub, and its log with it.
        print(hub_warnings(since), file=sys.stderr)
        raise
    finally:
        for user in changed.api("GET", "/users").json():
            if user.get("servers"):
                changed.api("DELETE", f"/users/{user['name']}/server")
        cli("deploy", config=stack.config)
        wait_for(stack.answers_api, 90, "the hub's API after restoring the config")


@pytest.fixture
def scaling_stack(stack: Stack, tmp_path):
    with redeployed(stack, tmp_path / "scaling.yaml", scaling_config(stack)) as scaled:
        yield scaled


def containers(client, service: str) -> list:
    """The containers of a swarm service on the engine `client` talks to."""
    return client.containers.list(filters={"label": f"com.docker.swarm.service.name={service}"})


def running_task(client, user: str) -> dict:
    """The running task of `user`'s server."""
    service = client.services.get(f"jupyter-{user}")  # names without "-": not escaped
    tasks = [t for t in service.tasks() if t["Status"]["State"] == "running"]
    assert len(tasks) == 1, tasks
    return tasks[0]


def node_of(client, user: str) -> str:
    """The swarm node id that runs `user`'s server."""
    return running_task(client, user)["NodeID"]


def local_node(cfg, client, swarm_id: str):
    """The local target's node (nodes.LocalNode) behind a swarm node id."""
    from swarmhub.local import nodes
    from swarmhub.swarm.labels import INSTANCE_ID

    instance = client.api.inspect_node(swarm_id)["Description"]["Engine"]["Labels"][INSTANCE_ID]
    (node,) = [n for n in nodes.list_nodes(cfg) if n.instance_id == instance]
    return node


def hub_log(since: float) -> str:
    """The hub service's log since `since` (a time.time()), from every hub task."""
    import docker

    service = docker.from_env().services.get("swarmhub-hub")
    return b"".join(service.logs(stdout=True, stderr=True, since=int(since))).decode(
        errors="replace"
    )


def hub_warnings(since: float) -> str:
    """The hub's warnings, errors and tracebacks since `since` (a time.time())."""
    try:
        log = hub_log(since)
    except Exception as exc:  # noqa: BLE001 - a failure report must not fail itself
        return f"the hub's log could not be read: {exc}"
    noted, in_traceback = [], False
    for line in log.splitlines():
        entry = any(m in line for m in ("[I ", "[D ", "[W ", "[E ", "[C "))
        in_traceback = "Traceback" in line or (in_traceback and not entry)
        if in_traceback or (any(m in line for m in ("[W ", "[E ", "[C ")) and " 424 " not in line):
            noted.append(line)
    return "the hub's warnings and errors:\n" + "\n".join(noted[-80:])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """When a test on the local stack fails, say what the swarm says: the hub's
    and the proxy's tasks and last log lines, and every user server's tasks."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed or "stack" not in item.fixturenames:
        return
    import subprocess

    def sh(*args: str) -> str:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
        return (proc.stdout + proc.stderr).strip()

    parts = [sh("docker", "node", "ls"), sh("docker", "service", "ls")]
    for name in ("swarmhub-hub", "swarmhub-proxy"):
        parts.append(sh("docker", "service", "ps", "--no-trunc", name))
        parts.append(sh("docker", "service", "logs", "--tail", "40", name))
    for line in sh("docker", "service", "ls", "--format", "{{.Name}}").splitlines():
        if line.startswith("jupyter-"):
            parts.append(sh("docker", "service", "ps", "--no-trunc", line))
    # The hub's warnings and errors during the test, from every hub task.
    parts.append(hub_warnings(call.start))
    report.sections.append(("the swarm when it failed", "\n\n".join(parts)))
