"""The hub's swarm objects, made idempotently: the overlay network, the Swarm
secrets and the proxy and hub services (from `swarmhub.swarm.specs`).

Both targets call these between "the swarm is up" and "wait for the hub":
`swarmhub.local.deploy` on this machine, `swarmhub.aws.manager_up` on the AWS
manager. Each `ensure_*` checks before it acts and appends what it created to
`made`, so a failed run can `rollback(made)` exactly that and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import time
from contextlib import suppress

from swarmhub.run import echo
from swarmhub.swarm import labels
from swarmhub.swarm.specs import NETWORK

# The label that holds a service's spec hash: equal hash, the service is kept.
SPEC_HASH = "swarmhub.spec-hash"

Made = list[tuple[str, str]]  # (kind, name) created by this run, for rollback


def spec_hash(spec: dict) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def ensure_network(client, subnet: str, made: Made) -> None:
    """The attachable overlay of hub, proxy and user servers, on `subnet`."""
    if client.networks.list(names=[NETWORK]):
        return
    import docker.types

    ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet)])
    client.networks.create(
        NETWORK, driver="overlay", attachable=True, ipam=ipam, labels={labels.MANAGED: "true"}
    )
    made.append(("network", NETWORK))


def ensure_secret(client, name: str, value: str, made: Made) -> None:
    if client.secrets.list(filters={"name": name}):
        return
    client.secrets.create(name=name, data=value.encode(), labels={labels.MANAGED: "true"})
    made.append(("secret", name))


def service_state(client, spec: dict) -> str:
    """ "create", "replace" or "keep": what `ensure_service` would do with `spec`."""
    for service in client.services.list(filters={"name": spec["name"]}):
        if service.name != spec["name"]:
            continue
        if service.attrs["Spec"].get("Labels", {}).get(SPEC_HASH) == spec_hash(spec):
            return "keep"
        return "replace"
    return "create"


def ensure_service(client, spec: dict, made: Made) -> None:
    """Create the service of `spec`, replacing one whose spec hash differs."""
    import docker.types

    digest = spec_hash(spec)
    for service in client.services.list(filters={"name": spec["name"]}):
        if service.name != spec["name"]:
            continue
        if service.attrs["Spec"].get("Labels", {}).get(SPEC_HASH) == digest:
            return
        echo(f"service {spec['name']}: spec changed, replacing it")
        service.remove()
        wait_gone(client, spec["name"])
    secret_refs = []
    for name in spec.get("secrets", []):
        secret = client.secrets.list(filters={"name": name})[0]
        secret_refs.append(docker.types.SecretReference(secret.id, name))
    ports = {published: (target, "tcp", "host") for published, target in spec.get("ports", [])}
    echo(f"service {spec['name']}: creating")
    client.services.create(
        spec["image"],
        command=spec["command"],
        name=spec["name"],
        env=[f"{k}={v}" for k, v in spec["env"].items()],
        networks=spec["networks"],
        constraints=spec["constraints"],
        labels={**spec["labels"], SPEC_HASH: digest},
        mounts=spec["mounts"],
        secrets=secret_refs,
        endpoint_spec=docker.types.EndpointSpec(mode="dnsrr", ports=ports or None),
        restart_policy=docker.types.RestartPolicy(condition="any", delay=1_000_000_000),
    )
    made.append(("service", spec["name"]))


def wait_gone(client, name: str, timeout: float = 30.0) -> bool:
    """Wait until no container of service `name` is left; False if some still are."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # The low-level list: the high-level one inspects each container it
        # lists, and one that goes in between is a NotFound.
        if not client.api.containers(
            all=True, filters={"label": f"com.docker.swarm.service.name={name}"}
        ):
            return True
        time.sleep(0.3)
    return False


def rollback(client, made: Made) -> None:
    """Remove the swarm objects in `made` (services, networks, secrets), newest first.
    Other kinds (a target's nodes, its swarm) are the target's to undo."""
    for kind, name in reversed(made):
        with suppress(Exception):
            if kind == "service":
                client.services.get(name).remove()
                wait_gone(client, name)
            elif kind == "network":
                client.networks.get(name).remove()
            elif kind == "secret":
                client.secrets.list(filters={"name": name})[0].remove()
