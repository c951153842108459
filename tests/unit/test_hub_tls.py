"""The local self-signed certificate: made once, for this machine, key kept private."""

from __future__ import annotations

import datetime
import ipaddress
import stat

from cryptography import x509

from swarmhub.hub import tls


def _names(cert_path) -> set[str]:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(san.get_values_for_type(x509.DNSName)) | {
        str(ip) for ip in san.get_values_for_type(x509.IPAddress)
    }


def test_made_once_for_the_hosts(tmp_path):
    key, cert = tls.ensure(tmp_path, ["10.1.2.3", "127.0.0.1", "localhost"])
    assert _names(cert) == {"10.1.2.3", "127.0.0.1", "localhost"}
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    before = cert.read_bytes()
    tls.ensure(tmp_path, ["127.0.0.1", "localhost"])  # a subset: keep it
    assert cert.read_bytes() == before


def test_replaced_when_the_host_changes_or_it_expires(tmp_path):
    _, cert = tls.ensure(tmp_path, ["10.1.2.3"])
    first = cert.read_bytes()
    tls.ensure(tmp_path, ["10.9.9.9"])
    assert cert.read_bytes() != first and "10.9.9.9" in _names(cert)
    second = cert.read_bytes()
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=tls.VALID_DAYS - 10)
    tls.ensure(tmp_path, ["10.9.9.9"], now=later)
    assert cert.read_bytes() != second


def test_ip_hosts_are_ip_names(tmp_path):
    _, cert = tls.ensure(tmp_path, ["192.0.2.7"])
    c = x509.load_pem_x509_certificate(cert.read_bytes())
    san = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("192.0.2.7")]


def test_proxy_args():
    assert tls.proxy_args("off", "/srv/jupyterhub") == []
    assert tls.proxy_args("self-signed", "/srv/jupyterhub") == [
        "--ssl-key=/srv/jupyterhub/tls/key.pem",
        "--ssl-cert=/srv/jupyterhub/tls/cert.pem",
    ]
