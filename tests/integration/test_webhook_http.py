"""The webhook sender connects to the address the SSRF check allowed, and still checks TLS as the URL's
name: SNI and the certificate carry the name, the socket goes to the address. A local TLS receiver
with its own certificate for `hooks.test` stands in for the world (SSL_CERT_FILE trusts it)."""

from __future__ import annotations

import ipaddress
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from imagegen.dal.webhook_http import post_webhook

LOOPBACK = ipaddress.ip_address("127.0.0.1")


def _certificate(folder: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """An https receiver on 127.0.0.1 with a certificate for hooks.test, trusted by this process."""
    cert, key = _certificate(tmp_path, "hooks.test")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # OpenSSL's default trust store, for this test only
    seen: dict[str, Any] = {"sni": [], "hosts": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            seen["hosts"].append(self.headers.get("host"))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda _socket, name, _context: seen["sni"].append(name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    seen["port"] = server.server_address[1]
    yield seen
    server.shutdown()
    server.server_close()


def test_https_goes_to_the_checked_address_as_the_urls_name(tls_receiver: dict[str, Any]) -> None:
    port = tls_receiver["port"]
    answer = post_webhook(f"https://hooks.test:{port}/in?x=1", LOOPBACK, {"webhook-id": "msg_1"}, "{}")
    assert answer.status == 202
    assert tls_receiver["sni"] == ["hooks.test"] and tls_receiver["hosts"] == [f"hooks.test:{port}"]


def test_a_certificate_for_another_name_is_no_answer(tls_receiver: dict[str, Any]) -> None:
    answer = post_webhook(f"https://other.test:{tls_receiver['port']}/in", LOOPBACK, {}, "{}")
    assert answer.status is None and answer.problem == "SSLError"
    assert tls_receiver["hosts"] == []
