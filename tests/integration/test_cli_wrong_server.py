"""A wrong server address gets a sentence that says what is wrong, never a misleading "wrong password".

Real peers only: the running Data Manager, the real SeaweedFS store behind it, and a real TLS server on
loopback with a freshly made self-signed certificate.
"""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gsdesktop.server.seaweed import S3Config
from tests.conftest import Account
from tests.support.cli import cli_env, run_cli


def _ls(tmp_path: Path, server: str, account: Account, **extra: str) -> tuple[int, str]:
    home = tmp_path / "home"
    env = cli_env(home, server, account.username, account.password, GSDESKTOP_RETRIES="0", **extra)
    res = run_cli(["ls"], env).assert_clean_failure()
    return res.code, res.err


def test_a_path_that_is_not_the_data_manager(account: Account, tmp_path: Path) -> None:
    code, err = _ls(tmp_path, account.server_url + "/datamanager/v1.0", account)
    assert code == 2 and "is not a GenomeSpace Data Manager" in err and "password" not in err


def test_the_storage_endpoint_given_as_the_server(
    account: Account, seaweed: S3Config, tmp_path: Path
) -> None:
    """SeaweedFS answers the sign-in request with S3's 403 AccessDenied: that is not a bad password."""
    assert seaweed.endpoint
    code, err = _ls(tmp_path, seaweed.endpoint, account)
    assert code == 2 and f"{seaweed.endpoint} is not a GenomeSpace Data Manager" in err, err


def test_https_to_a_plain_http_server(account: Account, tmp_path: Path) -> None:
    code, err = _ls(tmp_path, account.server_url.replace("http://", "https://"), account)
    assert code == 6 and "does not speak HTTPS on this port" in err and "SSLError" not in err, err


class _WebSite(http.server.BaseHTTPRequestHandler):
    """Any web site: a page for every path."""

    def do_GET(self) -> None:
        body = b"<html><body>Welcome</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS web site on loopback whose certificate no default trust store knows."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    loopback = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(loopback, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = tmp_path / "site-ca.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem = serialization.Encoding.PEM
    key_file.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _WebSite)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_file, key_file)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}", cert_file
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_an_untrusted_certificate_and_the_advice_that_fixes_it(
    account: Account, tls_server: tuple[str, Path], tmp_path: Path
) -> None:
    url, ca = tls_server
    code, err = _ls(tmp_path, url, account)
    assert code == 6 and "cannot be trusted (certificate verify failed: self-signed certificate)" in err, err
    assert "REQUESTS_CA_BUNDLE" in err
    # following the advice gets past TLS: the next problem is that this web site is no Data Manager
    code, err = _ls(tmp_path, url, account, REQUESTS_CA_BUNDLE=str(ca))
    assert code == 2 and "is not a GenomeSpace Data Manager" in err, err
