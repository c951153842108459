"""HTTPS on the local target: a self-signed certificate, made once, served by the proxy.

`hub.https: self-signed` is the one key. `deploy` calls `ensure` before it
creates the proxy service; the certificate and key live in the hub's state
directory (`tls/`, the key 0600), which the proxy mounts read-only and no
notebook container mounts. A certificate is kept across deploys (browsers
remember the exception a user accepted) and replaced only when it no longer
names this machine or is about to expire. On AWS the manager gets a Let's
Encrypt certificate instead (docs/aws.md, `hub.domain`).
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from swarmhub.run import write_atomic

DIR = "tls"  # under the hub's state directory
KEY = "key.pem"
CERT = "cert.pem"
VALID_DAYS = 825  # the longest validity browsers accept for a TLS server certificate
RENEW_DAYS = 30


def paths(state_dir: str | Path) -> tuple[Path, Path]:
    d = Path(state_dir) / DIR
    return d / KEY, d / CERT


def ensure(state_dir: str | Path, hosts: list[str], *, now: datetime.datetime | None = None):
    """Key and certificate for `hosts` (names or IPs) in state_dir/tls; made if needed."""
    # cryptography only here: the proxy, which needs just proxy_args, never imports it.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    now = now or datetime.datetime.now(datetime.UTC)
    key_path, cert_path = paths(state_dir)
    if _usable(cert_path, key_path, hosts, now):
        return key_path, cert_path
    key_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _self_signed(key, hosts, now)
    write_atomic(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        0o600,
    )
    write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return key_path, cert_path


def proxy_args(https: str, state_dir: str) -> list[str]:
    """configurable-http-proxy's TLS options for the `hub.https` setting."""
    if https != "self-signed":
        return []
    key_path, cert_path = paths(state_dir)
    return [f"--ssl-key={key_path}", f"--ssl-cert={cert_path}"]


def _self_signed(key, hosts: list[str], now: datetime.datetime):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "swarmhub (self-signed)")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )


def _san(host: str):
    from cryptography import x509

    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _usable(cert_path: Path, key_path: Path, hosts: list[str], now) -> bool:
    from cryptography import x509

    if not (cert_path.exists() and key_path.exists()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    covered = set(names.get_values_for_type(x509.DNSName)) | {
        str(ip) for ip in names.get_values_for_type(x509.IPAddress)
    }
    fresh = cert.not_valid_after_utc - now > datetime.timedelta(days=RENEW_DAYS)
    return fresh and set(hosts) <= covered
