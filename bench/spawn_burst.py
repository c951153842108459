"""spawn_burst: N students start their servers at the same moment.

Reports p50/p95 from the start request to the server answering through the
proxy, and in the same run the floor: the same number of bare `docker service
create` of the notebook image on the same worker, until its HTTP port answers.
Run as root:  python bench/spawn_burst.py [--users 20] [--rounds 1]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import time

import requests
from _stack import bare_floor, bench_stack, percentile, show_hub_log

from swarmhub.config import load_config
from swarmhub.local import images, nodes

FIRST_PORT = 19000
# One server's start to its answer, loaded node included (the hub allows 180 s).
DEADLINE = 300.0


def hub_path(stack, users: list[str]) -> list[float]:
    tokens = {}
    for user in users:
        stack.ensure_user(user)
        tokens[user] = stack.user_token(user)

    def one(user: str) -> float:
        t0 = time.monotonic()
        r = stack.api("POST", f"/users/{user}/server")
        assert r.status_code in (201, 202), r.text
        while time.monotonic() < t0 + DEADLINE:
            try:
                if stack.via_proxy(user, "/api/status", tokens[user]).status_code == 200:
                    return time.monotonic() - t0
            except requests.RequestException:
                pass
            time.sleep(0.1)
        show_hub_log()
        raise TimeoutError(f"{user}'s server did not answer via the proxy in {DEADLINE:.0f}s")

    with cf.ThreadPoolExecutor(len(users)) as pool:
        times = list(pool.map(one, users))
    for user in users:
        stack.stop(user, timeout=120)
    return times


def floor(stack, count: int) -> list[float]:
    cfg = load_config(stack.config)
    image = images.built_images(cfg)["notebook"]
    worker = nodes.list_nodes(cfg)[0]
    where = [(nodes.swarm_node_id(worker), worker.address)] * count
    return bare_floor(
        where, image, deadline=DEADLINE, mem_reservation=256 * 2**20, cpu_reservation=0.05
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    hub_times, floor_times = [], []
    with bench_stack() as stack:
        # One warm-up spawn so both paths start with the page cache warm.
        stack.ensure_user("warmup")
        stack.start("warmup")
        stack.stop("warmup")
        for r in range(args.rounds):
            users = [f"student{r}x{i:02d}" for i in range(args.users)]
            floor_times += floor(stack, args.users)
            hub_times += hub_path(stack, users)
    hp50, hp95 = percentile(hub_times, 50), percentile(hub_times, 95)
    fp50, fp95 = percentile(floor_times, 50), percentile(floor_times, 95)
    print(f"spawn_burst: {args.users} users at once x {args.rounds} round(s)")
    print(f"  hub path (request -> answers via proxy): p50 {hp50:.2f}s  p95 {hp95:.2f}s")
    print(f"  floor (bare service create -> answers):  p50 {fp50:.2f}s  p95 {fp95:.2f}s")
    print(f"  ratio hub/floor: p50 {hp50 / fp50:.2f}x  p95 {hp95 / fp95:.2f}x  (aim: p95 <= 1.5x)")


if __name__ == "__main__":
    main()
