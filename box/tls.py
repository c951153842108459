"""The box's AWS endpoints as a machine sees them: https on AWS's own names.

A real instance calls `https://ssm.<region>.amazonaws.com` with no endpoint
setting; user-data and the AMI's scripts (swarm-join.sh's `aws ssm
get-parameter`) name no endpoint. So the box's image resolves the regional
service names to the box's namespace address (/etc/hosts) and trusts the box's
own certificate authority (appended to the system bundle, which Debian's
botocore reads), and the controller forwards TLS on port 443 to moto's server.
The CA is made once with openssl and kept beside the image cache.
"""

from __future__ import annotations

import hashlib
import os
import socket
import ssl
import threading
from pathlib import Path

from box import image

REGION = "us-east-1"
SERVICES = ["ssm", "ec2", "sts", "autoscaling", "sqs", "s3", "iam", "elasticfilesystem"]
NAMES = [f"{s}.{REGION}.amazonaws.com" for s in SERVICES] + ["iam.amazonaws.com"]
PORT = 443


def _dir() -> Path:
    return image.CACHE / "tls"


def ensure() -> Path:
    """The CA and the endpoints' certificate (made once); the directory holding them."""
    d = _dir()
    if (d / "server.crt").exists():
        return d
    partial = d.with_name("tls.partial")
    partial.mkdir(parents=True, exist_ok=True)
    os.chmod(partial, 0o700)
    sans = ",".join(f"DNS:{n}" for n in NAMES)
    ssl_ = ["openssl"]
    image.run(
        ssl_ + ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
                "-subj", "/CN=swarmhub box CA", "-keyout", str(partial / "ca.key"),
                "-out", str(partial / "ca.crt")],
        timeout=60,
    )  # fmt: skip
    image.run(
        ssl_ + ["req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={NAMES[0]}",
                "-keyout", str(partial / "server.key"), "-out", str(partial / "server.csr")],
        timeout=60,
    )  # fmt: skip
    (partial / "ext.cnf").write_text(f"subjectAltName={sans}\n")
    image.run(
        ssl_ + ["x509", "-req", "-in", str(partial / "server.csr"), "-CA", str(partial / "ca.crt"),
                "-CAkey", str(partial / "ca.key"), "-CAcreateserial", "-days", "3650",
                "-extfile", str(partial / "ext.cnf"), "-out", str(partial / "server.crt")],
        timeout=60,
    )  # fmt: skip
    partial.rename(d)
    return d


def digest() -> str:
    d = ensure()
    return hashlib.sha256((d / "ca.crt").read_bytes() + " ".join(NAMES).encode()).hexdigest()


def install(tree: Path) -> None:
    """The image trusts the box's CA and resolves AWS's names to the box."""
    from box import network  # network imports image; image imports this module

    ca = (ensure() / "ca.crt").read_text()
    (tree / "usr/local/share/ca-certificates").mkdir(parents=True, exist_ok=True)
    (tree / "usr/local/share/ca-certificates/swarmhub-box.crt").write_text(ca)
    with open(tree / "etc/ssl/certs/ca-certificates.crt", "a") as bundle:
        bundle.write(ca)
    with open(tree / "etc/hosts", "a") as hosts:
        hosts.write(f"{network.NS_ADDRESS} {' '.join(NAMES)}\n")


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _handle(conn: ssl.SSLSocket, upstream: tuple[str, int]) -> None:
    try:
        conn.settimeout(60)
        back = socket.create_connection(upstream, timeout=10)
        back.settimeout(60)
    except OSError:
        conn.close()
        return
    threading.Thread(target=_pipe, args=(back, conn), daemon=True).start()
    _pipe(conn, back)
    conn.close()
    back.close()


def forward(address: str, upstream: tuple[str, int], stop: threading.Event) -> threading.Thread:
    """Serve TLS on address:443 with the endpoints' certificate, each connection piped
    to moto's plain-http port; stops accepting when `stop` is set."""
    d = ensure()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(d / "server.crt", d / "server.key")
    listener = socket.create_server((address, PORT), reuse_port=False)
    listener.settimeout(0.5)

    def loop() -> None:
        with listener:
            while not stop.is_set():
                try:
                    raw, _ = listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                raw.settimeout(10)
                try:
                    conn = context.wrap_socket(raw, server_side=True)
                except (OSError, ssl.SSLError):
                    raw.close()
                    continue
                threading.Thread(target=_handle, args=(conn, upstream), daemon=True).start()

    thread = threading.Thread(target=loop, name="box-tls", daemon=True)
    thread.start()
    return thread
