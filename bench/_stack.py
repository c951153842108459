"""A local stack of its own for a benchmark: deployed at the start, destroyed at the end.

Run the benchmarks as scripts (`python bench/NAME.py`): this module sits beside
them on sys.path, and the hub client is the package's own (swarmhub.hubclient).
"""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from swarmhub.hubclient import HubClient, pipeline, wait_for

STATE_DIR = Path("/var/lib/swarmhub-bench")
PORT = 18100


class BenchStack(HubClient):
    def __init__(self, config: Path):
        super().__init__(
            url=f"http://127.0.0.1:{PORT}",
            token_file=str(STATE_DIR / "secrets" / "swarmhub-cli-token"),
        )
        self.config = config

    def secret(self, name: str) -> str:
        return (STATE_DIR / "secrets" / name).read_text().strip()

    def reconfigure(self, **sections) -> None:
        """Re-deploy with `sections` merged into the config; wait for the hub."""
        config = yaml.safe_load(self.config.read_text())
        for key, value in sections.items():
            config.setdefault(key, {}).update(value)
        self.config.write_text(yaml.safe_dump(config))
        pipeline("deploy", config=self.config)
        wait_for(self.answers_api, 120, "the hub's API after the re-deploy", 1)


@contextlib.contextmanager
def bench_stack(*, keep: bool = False, **overrides):
    config = {
        "hub": {"port": PORT},
        "servers": {"mem_reservation": "256M", "mem_limit": "1G", "cpu_reservation": 0.05},
        "autoscaler": {"enabled": False},
        "local": {"state_dir": str(STATE_DIR), "homes_dir": str(STATE_DIR / "homes"), "workers": 1},
    }
    for key, value in overrides.items():
        config.setdefault(key, {}).update(value)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "swarmhub.yaml"
        path.write_text(yaml.safe_dump(config))
        pipeline("bake", config=path)
        pipeline("deploy", config=path)
        try:
            yield BenchStack(path)
        finally:
            if not keep:
                pipeline("destroy", "--purge", "--yes", config=path, check=False)


def percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(sorted(values), n=100, method="inclusive")[int(q) - 1]


def show_hub_log(lines: int = 60) -> None:
    """The hub's last lines, so a failed run says why before the stack is destroyed."""
    proc = subprocess.run(
        ["docker", "service", "logs", "--tail", str(lines), "swarmhub-hub"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    print(f"--- last lines of the hub:\n{proc.stdout}{proc.stderr}", file=sys.stderr)


def bare_floor(
    placements: list[tuple[str, str]],
    image: str,
    *,
    deadline: float = 300.0,
    first_port: int = 19000,
    mem_reservation: int = 0,
    cpu_reservation: float = 0.0,
    arrivals: list[float] | None = None,
) -> list[float]:
    """The floor for a spawn: a bare `docker service create` of the notebook image
    per (swarm node id, node address), on the hub's overlay with dnsrr, each
    timed until its HTTP port answers; every service removed after. All at
    once, or each `arrivals[i]` seconds after the start (as a class arrives)."""
    import concurrent.futures as cf
    import time

    import docker
    import requests

    client = docker.from_env()
    start = time.monotonic()

    def one(i: int) -> float:
        if arrivals:
            time.sleep(max(0.0, start + arrivals[i] - time.monotonic()))
        node_id, address = placements[i]
        port = first_port + i
        t0 = time.monotonic()
        client.services.create(
            image,
            command=["jupyter", "server", "--ip=0.0.0.0", "--port=8888", "--no-browser"],
            name=f"bench-floor-{i}",
            constraints=[f"node.id=={node_id}"],
            resources=docker.types.Resources(
                mem_reservation=mem_reservation, cpu_reservation=int(cpu_reservation * 1e9)
            ),
            endpoint_spec=docker.types.EndpointSpec(
                mode="dnsrr", ports={port: (8888, "tcp", "host")}
            ),
            networks=["swarmhub"],
        )
        while time.monotonic() < t0 + deadline:
            try:
                if requests.get(f"http://{address}:{port}/api", timeout=2).ok:
                    return time.monotonic() - t0
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"bare service bench-floor-{i} did not answer in {deadline:.0f}s")

    try:
        with cf.ThreadPoolExecutor(len(placements)) as pool:
            return list(pool.map(one, range(len(placements))))
    finally:
        for service in client.services.list(filters={"name": "bench-floor-"}):
            service.remove()
        time.sleep(5)
