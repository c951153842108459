"""A stand-in single-user server for bench/hub_scale.py: answers the hub as a
real one does at its base URL, and costs next to nothing.

The hub and the proxy only need an HTTP answer below 500 at
<JUPYTERHUB_SERVICE_PREFIX>api on the port JUPYTERHUB_SERVICE_URL names; this
gives one to every GET or HEAD, so what a benchmark measures is the hub's, the
proxy's, the autoscaler's and Swarm's cost per server, not JupyterLab's.
Standard library only (`socket`), one process, one connection at a time.
"""

import os
import signal
import socket
import sys
from urllib.parse import urlparse

BODY = b'{"version": "2.14.0", "standin": true}'


def main() -> None:
    url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://0.0.0.0:8888/"))
    port = url.port or 8888
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", port))  # noqa: S104 - the container's own port
    server.listen(64)
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(BODY)
    )
    while True:
        conn, _ = server.accept()
        try:
            conn.settimeout(5)
            request = conn.recv(65536)
            conn.sendall(head if request.startswith(b"HEAD") else head + BODY)
        except OSError:
            pass
        finally:
            conn.close()


if __name__ == "__main__":
    main()
