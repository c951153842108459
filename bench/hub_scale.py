"""hub_scale: one hub brought to N running servers in steps, measured at each.

The servers are a stand-in (bench/standin/: answers the hub at its base URL,
costs a few MB), so the figures are the hub's, the proxy's, the autoscaler's
and Swarm's, not JupyterLab's. At each step, in the same run:

  spawn      p50/p95 of a new server, request -> answers through the proxy
             (one at a time, --probes of them, each stopped after)
  cpu/min    CPU seconds per minute of the hub, the autoscaler, the proxy and
             the manager's dockerd, over --window seconds at rest
  round      one autoscaler round's reads: the swarm snapshot and the hub's
             active users, timed here with the very code the autoscaler runs
  swarm read the largest Swarm API answer a poll reads (bytes), beside what
             the pre-#24 poll read (every running task, every user service)
  status     `pipeline.py status` wall time
  routes     the hub's route check: GET of the proxy's whole routing table
  memory     RSS of the hub process and the proxy; host memory per server

Steps stop before the bench's host memory would pass --budget-gb, and before
--max-minutes (the docker lock is shared). Run as root, under the lock:

  flock /tmp/swarmhub-docker.lock timeout 1500 python3 bench/hub_scale.py \
      [--steps 10,100,250,500] [--probes 8] [--window 30]

The churn soak instead of steps (spawn/stop cycles one after another; then the
first and last tenth's latency, and what is left behind: user services, live
tasks, the proxy's user routes, the overlay's endpoints of user services):

  ... python3 bench/hub_scale.py --soak 300 --soak-minutes 12
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import requests
from _stack import bench_stack, percentile, show_hub_log

from swarmhub.config import load_config
from swarmhub.local import engine, golden, images, nodes
from swarmhub.swarm import labels
from swarmhub.swarm.state import USER_TASKS, snapshot

HERE = Path(__file__).resolve().parent
STANDIN = "swarmhub-bench/standin:2"
PAGED = {"Accept": "application/jupyterhub-pagination+json"}
TICK = os.sysconf("SC_CLK_TCK")


# --- the stand-in image --------------------------------------------------------


def build_standin(base: str) -> None:
    """Build the stand-in on the local base image (the build cache makes a re-run quick)."""
    subprocess.run(
        [engine.build_cli(), "build", "--network", "host", "-q", "--build-arg",
         f"BASE={base}", "-t", STANDIN, str(HERE / "standin")],
        check=True, timeout=600,
    )  # fmt: skip


# --- what a process costs --------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def container_pids(service: str) -> list[tuple[int, str]]:
    cid = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={service}"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout.split()  # fmt: skip
    if not cid:
        return []
    out = subprocess.run(
        ["docker", "top", cid[0], "-eo", "pid,args"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout.splitlines()[1:]  # fmt: skip
    return [(int(line.split(None, 1)[0]), line.split(None, 1)[1]) for line in out]


def processes() -> dict[str, int]:
    """pid of: the hub, the autoscaler, the proxy, the manager's dockerd."""
    found = {}
    for pid, args in container_pids("swarmhub-hub"):
        if "swarmhub.autoscaler.service" in args:
            found["autoscaler"] = pid
        elif "jupyterhub" in args and "culler" not in args and "hub" not in found:
            found["hub"] = pid
    for pid, args in container_pids("swarmhub-proxy"):
        if "node" in args or "configurable-http-proxy" in args:
            found["proxy"] = pid
    found["dockerd"] = int(Path("/var/run/docker.pid").read_text())
    return found


# --- the hub ---------------------------------------------------------------------


def count(stack, state: str) -> int:
    r = stack.api("GET", "/users", params={"state": state, "limit": 1}, headers=PAGED)
    r.raise_for_status()
    return r.json()["_pagination"]["total"]


def spawn_many(stack, users: list[str], deadline: float) -> None:
    """Start every user's server (the hub refuses past its concurrent spawn limit:
    back off and ask again), then wait until the hub counts them all ready."""
    r = stack.api("POST", "/users", json={"usernames": users}, timeout=120)
    assert r.status_code in (201, 409), r.text

    def one(user: str) -> None:
        while time.monotonic() < deadline:
            r = stack.api("POST", f"/users/{user}/server", timeout=60)
            if r.status_code in (201, 202, 400):  # 400: already running or pending
                return
            if r.status_code != 429:
                show_hub_log(120)
                raise RuntimeError(f"spawn of {user} refused: {r.status_code} {r.text}")
            time.sleep(2)
        raise TimeoutError(f"{user}'s spawn not accepted before the step's deadline")

    with cf.ThreadPoolExecutor(16) as pool:
        list(pool.map(one, users))
    target = 0
    while time.monotonic() < deadline:
        ready, active = count(stack, "ready"), count(stack, "active")
        if ready == active:
            return
        target = ready
        time.sleep(3)
    show_hub_log()
    raise TimeoutError(f"only {target} servers ready at the step's deadline")


def new_spawns(stack, users: list[str], deadline: float = 180.0) -> list[float]:
    """One at a time: request -> the server answers through the proxy; stopped after."""
    stack.api("POST", "/users", json={"usernames": users}, timeout=60)
    times = []
    for user in users:
        t0 = time.monotonic()
        r = stack.api("POST", f"/users/{user}/server", timeout=60)
        assert r.status_code in (201, 202), r.text
        while True:
            if time.monotonic() > t0 + deadline:
                show_hub_log()
                raise TimeoutError(f"{user}'s server did not answer in {deadline:.0f}s")
            try:
                if stack.via_proxy(user, "/api", "-", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.05)
        times.append(time.monotonic() - t0)
        stack.stop(user, timeout=120)
    return times


# --- the swarm --------------------------------------------------------------------


def answer_bytes(api, path: str, filters: dict) -> int:
    as_lists = {k: [v] if isinstance(v, str) else v for k, v in filters.items()}
    r = api.get(f"{api.base_url}/{path}", params={"filters": json.dumps(as_lists)}, timeout=120)
    r.raise_for_status()
    return len(r.content)


def autoscaler_round(stack, api) -> tuple[float, float]:
    """(swarm snapshot s, hub active users s): the two reads of one round."""
    t0 = time.monotonic()
    snapshot(api)
    t1 = time.monotonic()
    r = stack.api("GET", "/users", params={"state": "active"}, timeout=120)
    r.raise_for_status()
    return t1 - t0, time.monotonic() - t1


def _in_hub(code: str) -> str:
    """What `code` prints, run by the hub container's Python (the proxy's API
    answers only inside the stack's network)."""
    cid = subprocess.run(
        ["docker", "ps", "-q", "--filter", "label=com.docker.swarm.service.name=swarmhub-hub"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout.split()[0]  # fmt: skip
    return subprocess.run(
        ["docker", "exec", cid, "python3", "-c", code],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip


# The proxy's route table, asked as the hub asks it.
ROUTES_REQUEST = (
    "from swarmhub.hub.settings import secret\n"
    "req = u.Request('http://swarmhub-proxy:8001/api/routes',"
    " headers={'Authorization': 'token ' + secret('swarmhub-proxy-token')})\n"
)


def route_check() -> tuple[float, int]:
    """What the hub's route check reads: the proxy's table, from inside the hub."""
    out = _in_hub(
        "import time, urllib.request as u\n"
        + ROUTES_REQUEST
        + "t0 = time.monotonic(); body = u.urlopen(req, timeout=60).read()\n"
        "print(time.monotonic() - t0, len(body))\n"
    ).split()
    return float(out[0]), int(out[1])


def mem_available() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no MemAvailable in /proc/meminfo")


# --- one step ---------------------------------------------------------------------


def measure(stack, api, n: int, step: int, args) -> dict:
    out: dict = {"n": n}
    times = new_spawns(stack, [f"probe{step}x{i}" for i in range(args.probes)])
    out["spawn_p50"], out["spawn_p95"] = percentile(times, 50), percentile(times, 95)
    procs = processes()
    before = {k: cpu_seconds(p) for k, p in procs.items()}
    time.sleep(args.window)
    per_min = 60.0 / args.window
    for k, p in procs.items():
        out[f"cpu_{k}"] = (cpu_seconds(p) - before[k]) * per_min
    out["rss_hub"], out["rss_proxy"] = rss_mb(procs["hub"]), rss_mb(procs["proxy"])
    out["rss_dockerd"] = rss_mb(procs["dockerd"])
    out["round_swarm"], out["round_hub"] = autoscaler_round(stack, api)
    out["read_tasks"] = answer_bytes(api, "tasks", USER_TASKS)
    out["read_nodes"] = answer_bytes(api, "nodes", {})
    # Before #24 every poll read these two in full.
    out["old_tasks"] = answer_bytes(api, "tasks", {"desired-state": "running"})
    out["old_services"] = answer_bytes(api, "services", {"label": f"{labels.USER_SERVER}=true"})
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "swarmhub.cli", "status", "--config", str(stack.config)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    out["status_s"] = time.monotonic() - t0
    out["status_rc"] = proc.returncode
    out["routes_s"], out["routes_bytes"] = route_check()
    return out


def show(row: dict, per_server_mb: float) -> None:
    print(
        f"N={row['n']:>4}  spawn p50 {row['spawn_p50']:.2f}s p95 {row['spawn_p95']:.2f}s | "
        f"cpu s/min hub {row['cpu_hub']:.1f} autoscaler {row.get('cpu_autoscaler', 0):.1f} "
        f"proxy {row['cpu_proxy']:.1f} dockerd {row['cpu_dockerd']:.1f} | "
        f"round swarm {row['round_swarm'] * 1000:.0f}ms hub {row['round_hub'] * 1000:.0f}ms | "
        f"read tasks {row['read_tasks'] / 1024:.0f}KiB (before #24: tasks "
        f"{row['old_tasks'] / 1024:.0f}KiB + services {row['old_services'] / 1024:.0f}KiB) | "
        f"status {row['status_s']:.2f}s (rc {row['status_rc']}) | routes "
        f"{row['routes_s'] * 1000:.0f}ms {row['routes_bytes'] / 1024:.0f}KiB | rss hub "
        f"{row['rss_hub']:.0f}MB proxy {row['rss_proxy']:.0f}MB dockerd {row['rss_dockerd']:.0f}MB"
        f" | host {per_server_mb:.1f}MB/server",
        flush=True,
    )


# --- the churn soak -------------------------------------------------------------


def leftovers(stack, api) -> dict:
    """What should be gone when no server runs: user services, live user tasks,
    the proxy's user routes, the overlay's task endpoints."""
    routes = stack_routes()
    network = api.inspect_network("swarmhub", verbose=True, scope="swarm")
    endpoints = [
        task
        for name, svc in (network.get("Services") or {}).items()
        if name.startswith("jupyter-")
        for task in svc.get("Tasks") or []
    ]
    return {
        "services": len(api.services(filters={"label": f"{labels.USER_SERVER}=true"})),
        "live_tasks": len([t for t in api.tasks(filters=USER_TASKS)]),
        "user_routes": len([r for r in routes if r.startswith("/user/")]),
        "overlay_endpoints": len(endpoints),
        "hub_active": count(stack, "active"),
    }


def stack_routes() -> list[str]:
    out = _in_hub(
        "import json, urllib.request as u\n"
        + ROUTES_REQUEST
        + "print(json.dumps(sorted(json.load(u.urlopen(req, timeout=60)))))\n"
    )
    return json.loads(out)


def soak(stack, api, cycles: int, minutes: float) -> None:
    """Spawn and stop, one user after another over a pool of 20 names, `cycles`
    times or for `minutes`; then compare the first and last tenth's latency
    and look for anything left behind."""
    users = [f"churn{i:02d}" for i in range(20)]
    end = time.monotonic() + minutes * 60
    times: list[float] = []
    for i in range(cycles):
        if time.monotonic() > end:
            break
        times += new_spawns(stack, [users[i % len(users)]])
    tenth = max(1, len(times) // 10)
    first, last = times[:tenth], times[-tenth:]
    print(
        f"soak: {len(times)} spawn/stop cycles; first {tenth}: p50 {percentile(first, 50):.2f}s "
        f"p95 {percentile(first, 95):.2f}s; last {tenth}: p50 {percentile(last, 50):.2f}s "
        f"p95 {percentile(last, 95):.2f}s",
        flush=True,
    )
    time.sleep(10)  # a stopped task's endpoint is released a moment after
    print(f"soak: left behind with no server running: {leftovers(stack, api)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="10,100,250,500")
    parser.add_argument("--probes", type=int, default=8)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--budget-gb", type=float, default=8.0)
    parser.add_argument("--max-minutes", type=float, default=22.0)
    parser.add_argument("--keep", action="store_true", help="leave the stack up (to debug)")
    parser.add_argument("--soak", type=int, default=0, help="spawn/stop cycles (instead of steps)")
    parser.add_argument("--soak-minutes", type=float, default=12.0)
    args = parser.parse_args()
    steps = [] if args.soak else [int(s) for s in args.steps.split(",")]
    started = time.monotonic()

    overrides = {
        "servers": {
            "mem_reservation": "16M", "mem_limit": "64M", "cpu_reservation": 0.002,
            "cpu_limit": 0.2,
            "profiles": [{"name": "standin", "display_name": "Stand-in", "image": STANDIN}],
        },
        "autoscaler": {"enabled": True, "min_nodes": args.workers, "max_nodes": args.workers},
        "local": {"workers": args.workers},
    }  # fmt: skip
    import docker

    rows = []
    with bench_stack(keep=args.keep, **overrides) as stack:
        cfg = load_config(stack.config)
        base = images.tag(cfg, "base")
        build_standin(base)
        for node in nodes.list_nodes(cfg):
            golden.load_images(cfg, [STANDIN], node.docker_host)
        print(f"stand-in image {STANDIN} on {base}", flush=True)
        for pid, line in container_pids("swarmhub-hub") + container_pids("swarmhub-proxy"):
            print(f"  process {pid}: {line[:120]}")
        api = docker.APIClient(base_url="unix:///var/run/docker.sock", timeout=120)
        baseline = mem_available()
        print(f"deployed in {time.monotonic() - started:.0f}s", flush=True)
        running = 0
        per_server = 0.0
        for i, n in enumerate(steps):
            used = baseline - mem_available()
            projected = used + per_server * (n - running)
            elapsed = (time.monotonic() - started) / 60
            if projected > args.budget_gb * 2**30:
                print(f"stopping before N={n}: {projected / 2**30:.1f} GB would pass the budget")
                break
            if elapsed > args.max_minutes * 0.6 and i > 0:
                print(f"stopping before N={n}: {elapsed:.0f} min used of {args.max_minutes}")
                break
            users = [f"s{k:04d}" for k in range(running, n)]
            t0 = time.monotonic()
            spawn_many(stack, users, deadline=time.monotonic() + 120 + 2.0 * len(users))
            print(f"  {len(users)} servers more in {time.monotonic() - t0:.0f}s", flush=True)
            running = n
            time.sleep(10)  # let the step's spawns settle before measuring at rest
            per_server = (baseline - mem_available()) / running
            row = measure(stack, api, n, i, args)
            rows.append(row)
            show(row, per_server / 2**20)
        if args.soak:
            soak(stack, api, args.soak, args.soak_minutes)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
