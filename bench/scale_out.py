"""scale_out: a burst of servers that needs one more node than there is.

In one run: (1) the floor: the same burst on two nodes provisioned in advance;
(2) the autoscaler: one node, the burst, and a new node joining on demand.
Reports time from the burst to the new node Ready and to all servers running.
Run as root:  python bench/scale_out.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import sys
import threading
import time

import docker
from _stack import BenchStack, bench_stack, percentile, show_hub_log


def _workers(client) -> set[str]:
    return {
        n.attrs["ID"]
        for n in client.nodes.list()
        if n.attrs["Spec"]["Role"] == "worker" and n.attrs["Status"]["State"] == "ready"
    }


def burst(stack: BenchStack, users: list[str]) -> tuple[float, float | None]:
    """Start `users` at once; return (all running, new node Ready) in seconds."""
    client = docker.from_env()
    before = _workers(client)
    t0 = time.monotonic()
    new_node_at: list[float] = []
    done = threading.Event()

    def watch():
        while not done.wait(0.2):
            if _workers(client) - before:
                new_node_at.append(time.monotonic() - t0)
                return

    with cf.ThreadPoolExecutor(len(users) + 1) as pool:
        pool.submit(watch)
        try:
            list(pool.map(lambda u: stack.start(u, timeout=300), users))
            all_running = time.monotonic() - t0
        except (RuntimeError, TimeoutError):
            show_hub_log()
            raise
        finally:
            done.set()
    for user in users:
        stack.stop(user, timeout=120)
    return all_running, new_node_at[0] if new_node_at else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    # The engine may not be up yet; a local node offers the whole machine's memory.
    host_mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    per_server = f"{host_mem * 2 // 5 // 2**20}M"  # two servers fill a node
    servers = {"mem_reservation": per_server, "mem_limit": per_server, "cpu_reservation": 0.1}
    scaling = {
        "enabled": True, "min_nodes": 2, "max_nodes": 3, "headroom_slots": 0,
        "scale_in_cooldown": 10, "scale_out_cooldown": 0, "node_boot_seconds": 15,
        "poll_interval": 2,
    }  # fmt: skip
    floor_times, auto_times, node_times = [], [], []
    with bench_stack(servers=servers, autoscaler=scaling, local={"workers": 2}) as stack:
        for r in range(args.rounds):
            users = [f"burst{r}x{i}" for i in range(3)]
            for user in users:
                stack.ensure_user(user)
            floor_times.append(burst(stack, users)[0])
        # Now capacity follows demand: one node, and the burst needs a second.
        stack.reconfigure(autoscaler={"min_nodes": 1})
        client = docker.from_env()
        for r in range(args.rounds):
            deadline = time.monotonic() + 180
            while len(_workers(client)) > 1:
                if time.monotonic() > deadline:  # the idle second node is scaled in first
                    show_hub_log()
                    sys.exit(f"scale_out: the idle node was not scaled in within 180 s (round {r})")
                time.sleep(1)
            users = [f"burst{r}x{i}" for i in range(3)]
            all_running, node_ready = burst(stack, users)
            auto_times.append(all_running)
            if node_ready is not None:
                node_times.append(node_ready)
    fp50 = percentile(floor_times, 50)
    ap50 = percentile(auto_times, 50)
    print(f"scale_out: burst of 3 servers, 2 fit a node, {args.rounds} round(s)")
    print(
        f"  floor (2 nodes in advance), all running:  p50 {fp50:.1f}s  max {max(floor_times):.1f}s"
    )
    if node_times:
        print(
            f"  autoscaler, new node Ready:               p50 {percentile(node_times, 50):.1f}s"
            f"  max {max(node_times):.1f}s  ({len(node_times)}/{args.rounds} rounds added a node)"
        )
    print(
        f"  autoscaler, all running:                  p50 {ap50:.1f}s  max {max(auto_times):.1f}s"
    )
    print(f"  ratio autoscaler/floor (all running): p50 {ap50 / fp50:.2f}x")


if __name__ == "__main__":
    main()
