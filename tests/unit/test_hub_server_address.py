"""Where the hub and the proxy reach a user's server: its node's address and the
port the node publishes it on, not the overlay (docs/decisions/0041).

The spawner, its traits and docker-py's spec types run for real; the swarm is
replaced at the spawner's two Docker calls (`get_task`, `inspect_node`) by the
shapes Docker 20.10 returns, taken from a real host-mode service.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from docker.types import EndpointSpec
from traitlets.config import Config

from swarmhub.config import parse_config
from swarmhub.hub import hubconfig, settings
from swarmhub.hub.spawner import SwarmhubSpawner
from tests.helpers import runtime

NODE = "ujmxpvizz7esjrdbfb4nnpfce"


def _task(ports: list[dict] | None, overlay: str = "10.0.1.7/24") -> dict:
    status = {"State": "running"}
    if ports is not None:
        status["PortStatus"] = {"Ports": ports}
    return {
        "NodeID": NODE,
        "Status": status,
        "NetworksAttachments": [
            {"Network": {"Spec": {"Name": "swarmhub"}}, "Addresses": [overlay]},
        ],
    }


# As `docker inspect <task>` shows a host-mode port the node picked: once per
# address family.
HOST_PORTS = [
    {"Protocol": "tcp", "TargetPort": 8888, "PublishedPort": 32771, "PublishMode": "host"},
    {"Protocol": "tcp", "TargetPort": 8888, "PublishedPort": 32771, "PublishMode": "host"},
]


class _Spawner(SwarmhubSpawner):
    def __init__(self, task: dict, node: dict, **kw):
        super().__init__(user=SimpleNamespace(name="ada", id=1, url="/user/ada/"), **kw)
        self._task, self._node, self.asked = task, node, []

    async def get_task(self):
        return self._task

    async def docker(self, method, *args, **kwargs):
        self.asked.append((method, args))
        assert method == "inspect_node" and args == (NODE,)
        return self._node


def _configured(**traits) -> dict:
    """The spawner's traits as deploy renders them (settings -> hubconfig)."""
    c = Config()
    hubconfig.configure(c, settings.Settings(parse_config({}, "test.yaml"), runtime()))
    return {**dict(c.SwarmhubSpawner), **traits}


def _address(task: dict, node: dict) -> tuple[str, int]:
    traits = {k: v for k, v in _configured().items() if k in ("network_name", "use_internal_ip")}
    return asyncio.run(_Spawner(task, node, **traits).get_ip_and_port())


def _worker(addr: str) -> dict:
    return {"ID": NODE, "Status": {"State": "ready", "Addr": addr}, "Spec": {"Role": "worker"}}


def test_a_server_is_published_on_its_own_node_on_a_port_the_node_picks():
    traits = _configured()
    sp = SwarmhubSpawner(user=SimpleNamespace(name="ada", id=1, url="/user/ada/"), **traits)
    spec = EndpointSpec(**sp.extra_endpoint_spec)
    # No PublishedPort: the node picks a free one. Host mode: no routing mesh,
    # which would be an overlay (ingress) again.
    assert spec == {
        "Mode": "dnsrr",
        "Ports": [{"Protocol": "tcp", "TargetPort": 8888, "PublishMode": "host"}],
    }
    assert sp.port == 8888


def test_the_hub_reaches_a_server_at_its_nodes_address_and_published_port():
    assert _address(_task(HOST_PORTS), _worker("10.39.0.12")) == ("10.39.0.12", 32771)


def test_a_manager_that_reports_no_address_is_reached_at_its_manager_address():
    unspecified = "0.0.0.0"  # noqa: S104 - what Docker may report, not a bind
    node = {**_worker(unspecified), "ManagerStatus": {"Addr": "10.39.0.1:2377"}}
    assert _address(_task(HOST_PORTS), node) == ("10.39.0.1", 32771)


def test_a_server_started_before_publishing_is_reached_on_the_overlay_as_before():
    # A server that outlived the upgrade of its hub: its task has no host port.
    assert _address(_task(None), _worker("10.39.0.12")) == ("10.0.1.7", 8888)
    ingress = [{"Protocol": "tcp", "TargetPort": 8888, "PublishedPort": 30000,
                "PublishMode": "ingress"}]  # fmt: skip
    assert _address(_task(ingress), _worker("10.39.0.12")) == ("10.0.1.7", 8888)


def test_a_node_without_a_usable_address_falls_back_to_the_overlay():
    assert _address(_task(HOST_PORTS), _worker("127.0.0.1")) == ("10.0.1.7", 8888)
