"""A local stack of its own for a benchmark: deployed at the start, destroyed at the end."""

from __future__ import annotations

import contextlib
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.integration.stack import Stack, cli  # noqa: E402

STATE_DIR = Path("/var/lib/swarmhub-bench")
PORT = 18100


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
        cli("bake", config=path)
        cli("deploy", config=path)
        try:
            yield Stack(path, STATE_DIR, STATE_DIR / "homes", PORT)
        finally:
            if not keep:
                cli("destroy", "--purge", "--yes", config=path, check=False)


def percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(sorted(values), n=100, method="inclusive")[int(q) - 1]
