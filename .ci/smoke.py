"""CI: after the quickstart, a student signs in and starts a server as a browser does.

Runs with the quickstart's own Python (the package, no extras): the hub must
answer, a student's login form must let them in, /hub/spawn must lead into
JupyterLab. Every wait has a deadline. Exit 0 or one line saying what failed.
"""

from __future__ import annotations

import argparse
import sys
import time

from swarmhub.config import load_config
from swarmhub.hubclient import pipeline, wait_for
from swarmhub.local import deploy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="swarmhub.yaml")
    args = parser.parse_args()
    cfg = load_config(args.config)
    hub = deploy.hub_client(cfg)
    wait_for(hub.healthy, 60, "the hub's health check")
    student = "ci-student"
    # An account of the student's own, as the instructor makes it (README).
    added = pipeline("users", "add", student, "--reset", config=args.config).stdout
    password = dict(row.split(",", 1) for row in added.splitlines()[1:])[student]
    browser = hub.login(student, password)
    took = browser.open_lab(time.monotonic() + cfg.servers.start_timeout + 60)
    print(f"smoke: {student} signed in and reached JupyterLab in {took:.1f}s")
    hub.stop(student, timeout=60)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as exc:  # one line for the CI log
        print(f"smoke: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
