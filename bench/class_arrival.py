"""class_arrival: a class walks in. N students over M seconds, each as a browser.

Each student signs in on the login form (with its XSRF cookie), asks for a
server at /hub/spawn, follows the redirects into /user/<name>/lab, starts a
kernel, runs a cell over the kernel's websocket and stops the kernel. The hub
runs the default server size and autoscaler, starting from one node.

Reports the success rate, p50/p95 from login to the cell's result, the worker
nodes over time and, in the same run, the floor: the same number of bare
`docker service create` of the notebook image on nodes set up in advance,
until each answers HTTP.

Run as root on a machine where nothing else uses the Docker engine:
    python bench/class_arrival.py [--students 60] [--over 120]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures as cf
import random
import threading
import time

import docker
from _stack import bare_floor, bench_stack, percentile, show_hub_log

from swarmhub.config import load_config
from swarmhub.hubclient import pipeline, wait_for
from swarmhub.kernels import run_cell
from swarmhub.local import images, nodes

FIRST_PORT = 19000
DEADLINE = 600.0  # one student, login to cell result, at worst
FLOOR_DEADLINE = 300.0


def student(stack, name: str, password: str, arrive: float, t0: float) -> tuple[str, float | str]:
    time.sleep(max(0.0, t0 + arrive - time.monotonic()))
    start = time.monotonic()
    try:
        browser = stack.login(name, password)
        browser.open_lab(start + DEADLINE)
        kernel = browser.start_kernel()
        out = asyncio.run(run_cell(browser, kernel, "print(6 * 7)", timeout=120))
        browser.stop_kernel(kernel)
        if out.strip() != "42":
            return name, f"the cell printed {out!r}"
        return name, time.monotonic() - start
    except Exception as exc:  # a failed student is a result, not the end of the run
        return name, f"{type(exc).__name__}: {exc}"


def workers_ready(client) -> int:
    return sum(
        1
        for n in client.api.nodes()
        if n["Spec"]["Role"] == "worker" and n["Status"]["State"] == "ready"
    )


def hub_path(stack, count: int, over: float, seed: int):
    client = docker.from_env()
    names = [f"s{i:03d}" for i in range(count)]
    # One account each, as the instructor makes them from the roster.
    added = pipeline("users", "add", *names, "--reset", config=stack.config).stdout
    passwords = dict(row.split(",", 1) for row in added.splitlines()[1:])
    rng = random.Random(seed)
    arrivals = sorted(rng.uniform(0, over) for _ in names)
    timeline: list[tuple[float, int, int]] = []  # (s, ready nodes, running servers)
    done = threading.Event()
    t0 = time.monotonic()

    def watch() -> None:
        while not done.wait(5):
            running = sum(1 for u in stack.users() if u.get("servers", {}).get("", {}).get("ready"))
            timeline.append((time.monotonic() - t0, workers_ready(client), running))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    with cf.ThreadPoolExecutor(count) as pool:
        results = list(
            pool.map(
                lambda a: student(stack, a[0], passwords[a[0]], a[1], t0),
                zip(names, arrivals, strict=True),
            )
        )
    done.set()
    watcher.join(timeout=30)
    for name in names:
        stack.api("DELETE", f"/users/{name}/server")
    return results, timeline, arrivals


def floor(stack, count: int, arrivals: list[float]) -> list[float]:
    """Bare service creates of the notebook image on nodes set up in advance, at
    the class's own arrival times."""
    cfg = load_config(stack.config)
    image = images.built_images(cfg)["notebook"]
    workers = [(nodes.swarm_node_id(w), w.address) for w in nodes.list_nodes(cfg)]
    per_node = -(-count // len(workers))
    where = [workers[i // per_node] for i in range(count)]
    return bare_floor(where, image, deadline=FLOOR_DEADLINE, arrivals=arrivals)


def _servers_left(stack) -> int:
    return sum(1 for u in stack.users() if u.get("servers"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--over", type=float, default=120.0, help="seconds of arrivals")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    # The default server size and autoscaler; bounds wide enough for the class.
    with bench_stack(
        servers={"mem_reservation": "1G", "mem_limit": "2G", "cpu_reservation": 0.25},
        autoscaler={"enabled": True, "min_nodes": 1, "max_nodes": 10, "poll_interval": 5},
    ) as stack:
        for i in range(args.students):
            stack.ensure_user(f"s{i:03d}")
        t0 = time.monotonic()
        results, timeline, arrivals = hub_path(stack, args.students, args.over, args.seed)
        hub_wall = time.monotonic() - t0
        failures = [(n, r) for n, r in results if isinstance(r, str)]
        if failures:
            show_hub_log()
        # The floor, on the nodes the class made (empty now; the scale-in
        # cooldown keeps them for minutes, and bare services reserve nothing).
        wait_for(lambda: not _servers_left(stack), 120, "the class's servers to stop", 2)
        nodes_used = len(nodes.list_nodes(load_config(stack.config)))
        floor_times = floor(stack, args.students, arrivals)
    times = [r for _, r in results if not isinstance(r, str)]
    ok = len(times)
    print(f"class_arrival: {args.students} students over {args.over:.0f}s (seed {args.seed})")
    print(f"  success: {ok}/{args.students} ({100 * ok / args.students:.0f}%)")
    for name, why in failures[:10]:
        print(f"    {name}: {why}")
    if times:
        p50, p95 = percentile(times, 50), percentile(times, 95)
        print(f"  login -> cell result: p50 {p50:.1f}s  p95 {p95:.1f}s  max {max(times):.1f}s")
    fp50, fp95 = percentile(floor_times, 50), percentile(floor_times, 95)
    print(f"  floor (bare service create -> answers, same arrivals, {nodes_used} nodes "
          f"in advance): p50 {fp50:.1f}s  p95 {fp95:.1f}s")  # fmt: skip
    if times:
        print(f"  ratio hub/floor: p50 {p50 / fp50:.2f}x  p95 {p95 / fp95:.2f}x")
    print(f"  whole class served in {hub_wall:.0f}s; nodes over time (s: ready nodes, servers):")
    print("   " + "  ".join(f"{t:.0f}:{n}/{s}" for t, n, s in timeline[::3]))
    if failures:
        raise SystemExit(f"class_arrival: {len(failures)} of {args.students} students not served")


if __name__ == "__main__":
    main()
