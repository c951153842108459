"""The local node pool's agent: the twin of the Auto Scaling Group API on this machine.

The autoscaler runs inside the hub container, as on AWS; it cannot start
dockerd nodes from there, any more than it can boot EC2 instances itself. So
it asks this agent, a small HTTP service on the node bridge's address, the way
it asks the ASG API: list nodes, set the desired count, protect a node, remove
a named node. Like an ASG, the agent also keeps the count: a node whose
dockerd died (the instance vanished) is cleaned out of the swarm and replaced.

Every request carries the pool token (a generated secret, also a Swarm secret
of the hub). `deploy` starts the agent and `destroy` stops it.

    python -m swarmhub.local.agent --settings <state_dir>/hub/settings.json
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from swarmhub.config import Config
from swarmhub.errors import SwarmhubError
from swarmhub.hub.settings import load
from swarmhub.local import images, nodes
from swarmhub.local.bridge import manager_address
from swarmhub.local.paths import paths
from swarmhub.run import run, start_daemon, write_atomic

PORT = 2380
log = logging.getLogger("swarmhub.pool")


class Pool:
    """Desired count, protection and the nodes themselves; one reconciler thread."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.file = paths(cfg).pool_file
        self.lock = threading.RLock()
        saved = json.loads(self.file.read_text()) if self.file.exists() else {}
        self.protected: set[str] = set(saved.get("protected", []))
        self.desired: int = max(saved.get("desired", 0), len(nodes.list_nodes(cfg)))
        self.booting: set[str] = set()
        self.terminating: set[str] = set()
        self._save()

    def _save(self) -> None:
        data = {"desired": self.desired, "protected": sorted(self.protected)}
        write_atomic(self.file, json.dumps(data))

    # --- the API -------------------------------------------------------------

    def list(self) -> list[dict]:
        out = []
        with self.lock:
            for node in nodes.list_nodes(self.cfg):
                if node.name in self.booting or nodes.starting(self.cfg, node):
                    state, swarm_id = "pending", None
                elif node.name in self.terminating:
                    state, swarm_id = "terminating", None
                else:
                    state = "running" if nodes.dockerd_alive(node) else "terminating"
                    swarm_id = _swarm_id(node)
                out.append(
                    {
                        "id": node.instance_id,
                        "swarm_id": swarm_id,
                        "state": state,
                        "protected": node.instance_id in self.protected,
                    }
                )
            for name in self.booting - {n.name for n in nodes.list_nodes(self.cfg)}:
                out.append({"id": f"local-{name}", "swarm_id": None, "state": "pending"})
        return out

    def set_desired(self, n: int) -> None:
        with self.lock:
            self.desired = max(0, n)
            self._save()

    def protect(self, node_id: str, on: bool) -> None:
        with self.lock:
            (self.protected.add if on else self.protected.discard)(node_id)
            self._save()

    def remove(self, node_id: str) -> bool:
        """Terminate the named node and lower the count, as an ASG's
        TerminateInstanceInAutoScalingGroup does: at once, the work in the
        background (the node lists as terminating until it is gone)."""
        with self.lock:
            node = self._by_id(node_id)
            if node is None:
                return False
            if node.name in self.terminating:
                return True
            self.terminating.add(node.name)
            self.desired = max(0, self.desired - 1)
            self.protected.discard(node_id)
            self._save()
        threading.Thread(target=self._terminate, args=(node,), daemon=True).start()
        return True

    def _terminate(self, node) -> None:
        try:
            nodes.remove(self.cfg, node, drain_timeout=30)
        except Exception:
            log.exception("node %s: removal failed", node.name)
        finally:
            with self.lock:
                self.terminating.discard(node.name)

    def _by_id(self, node_id: str):
        return next((n for n in nodes.list_nodes(self.cfg) if n.instance_id == node_id), None)

    # --- keeping the count ---------------------------------------------------

    def reconcile(self) -> None:
        with self.lock:
            current = nodes.list_nodes(self.cfg)
            dead = [
                n
                for n in current
                if n.name not in self.booting
                and n.name not in self.terminating
                and not nodes.dockerd_alive(n)
                and not nodes.starting(self.cfg, n)  # started by another process
            ]
        for node in dead:
            log.warning("node %s: its dockerd is gone; removing it from the swarm", node.name)
            with self.lock:
                self.terminating.add(node.name)
                self.protected.discard(node.instance_id)
            try:
                nodes.remove(self.cfg, node, drain_timeout=0)
            finally:
                with self.lock:
                    self.terminating.discard(node.name)
        with self.lock:
            listed = {n.name for n in nodes.list_nodes(self.cfg)}
            have = len((listed | self.booting) - self.terminating)
            if self.desired - have <= 0:
                return
            node = nodes.next_free(self.cfg, exclude=self.booting | self.terminating)
            self.booting.add(node.name)
        log.info("node %s: starting (desired %d, have %d)", node.name, self.desired, have)
        threading.Thread(target=self._boot, args=(node,), daemon=True).start()

    def _boot(self, node) -> None:
        try:
            tags = images.built_images(self.cfg)
            nodes.start(self.cfg, list(tags.values()), node)
        except Exception:
            log.exception("node %s: failed to start", node.name)
            time.sleep(5)  # like an ASG's back-off before the next launch
        finally:
            with self.lock:
                self.booting.discard(node.name)


def _swarm_id(node) -> str | None:
    try:
        return nodes.swarm_node_id(node) or None
    except Exception:
        return None


class AgentServer(ThreadingHTTPServer):
    """The agent's HTTP server: a client that goes away before its answer (an
    autoscaler stopped with its hub mid-request) is one quiet line, not a
    traceback; any other error in a handler still prints one."""

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            log.info("a client went away before its answer (%s)", client_address[0])
            return
        super().handle_error(request, client_address)


def serve(
    cfg: Config, token: str, address: str, port: int = PORT, *, restore: bool = False
) -> AgentServer:
    """The agent's API on `address`, and its reconciler. restore: first start
    again the nodes a reboot stopped (swarmhub.local.boot), then keep the count."""
    pool = Pool(cfg)

    class Handler(BaseHTTPRequestHandler):
        def _auth(self) -> bool:
            given = self.headers.get("Authorization", "").removeprefix("Bearer ")
            if hmac.compare_digest(given.encode(), token.encode()):
                return True
            self._reply(401, {"error": "missing or wrong pool token"})
            return False

        def _reply(self, code: int, body) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 - http.server's naming
            if not self._auth():
                return
            if self.path == "/nodes":
                self._reply(200, pool.list())
            elif self.path == "/desired":
                self._reply(200, {"desired": pool.desired})
            else:
                self._reply(404, {"error": "no such path"})

        def do_PUT(self):  # noqa: N802
            if not self._auth():
                return
            if self.path != "/desired":
                return self._reply(404, {"error": "no such path"})
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            pool.set_desired(int(body["desired"]))
            self._reply(200, {"desired": pool.desired})

        def do_POST(self):  # noqa: N802
            if not self._auth():
                return
            parts = self.path.strip("/").split("/")
            if len(parts) == 3 and parts[0] == "nodes" and parts[2] in ("protect", "unprotect"):
                pool.protect(parts[1], parts[2] == "protect")
                return self._reply(200, {"ok": True})
            self._reply(404, {"error": "no such path"})

        def do_DELETE(self):  # noqa: N802
            if not self._auth():
                return
            parts = self.path.strip("/").split("/")
            if len(parts) == 2 and parts[0] == "nodes":
                found = pool.remove(parts[1])
                return self._reply(200 if found else 404, {"removed": found})
            self._reply(404, {"error": "no such path"})

        def log_message(self, fmt, *args):
            log.debug("%s " + fmt, self.address_string(), *args)

    server = AgentServer((address, port), Handler)

    def loop() -> None:
        if restore:
            from swarmhub.local import boot

            try:
                boot.restore(cfg)
            except Exception:
                log.exception("restoring the nodes failed; the reconciler replaces them")
        while True:
            try:
                pool.reconcile()
            except Exception:
                log.exception("reconcile failed")
            time.sleep(2)

    threading.Thread(target=loop, daemon=True).start()
    return server


def _pidfile(cfg: Config) -> Path:
    return paths(cfg).agent_pid


def running(cfg: Config) -> bool:
    return nodes.pid_alive(_pidfile(cfg))


def ensure(cfg: Config) -> None:
    """Start the agent unless it runs; wait until it answers."""
    import sys

    import requests

    from swarmhub.local import boot

    if running(cfg):
        return
    p = paths(cfg)
    settings = p.hub_state / "settings.json"
    log_path = p.agent_log
    if boot.install(cfg):  # systemd runs it, now and at every boot
        run(["systemctl", "start", boot.UNIT])
        proc = None
    else:
        proc = start_daemon(
            [sys.executable, "-m", "swarmhub.local.agent", "--settings", str(settings)],
            log=log_path,
        )
        _pidfile(cfg).write_text(str(proc.pid))
    url = f"http://{manager_address(cfg)}:{PORT}/desired"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 401:  # up, and wants a token
                return
        except requests.RequestException:
            pass
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.2)
    raise SwarmhubError("the local pool agent did not start", hint=f"see {log_path}")


def stop(cfg: Config, *, uninstall: bool = False) -> None:
    """Stop the agent (uninstall: and its boot unit, for destroy)."""
    import signal

    from swarmhub.local import boot

    if uninstall:
        boot.uninstall()
    elif boot.has_systemd():
        run(["systemctl", "stop", boot.UNIT], check=False, quiet=True)
    try:
        pid = int(_pidfile(cfg).read_text())
    except (FileNotFoundError, ValueError):
        return
    # The whole group: a node it was booting must not outlive it half-made.
    try:
        os.killpg(pid, signal.SIGTERM)
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.1)
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _pidfile(cfg).unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="swarmhub local node pool agent")
    parser.add_argument("--settings", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    cfg = load(args.settings).config
    token = (paths(cfg).secrets / "swarmhub-pool-token").read_text().strip()
    server = serve(cfg, token, manager_address(cfg), restore=True)
    _pidfile(cfg).write_text(str(os.getpid()))
    log.info("pool agent on %s:%d", manager_address(cfg), PORT)
    server.serve_forever()


if __name__ == "__main__":
    main()
