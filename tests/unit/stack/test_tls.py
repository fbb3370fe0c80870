"""The private CA and server certificates: a real TLS handshake verifies them."""

from __future__ import annotations

import socket
import ssl
import stat
import threading
from pathlib import Path

import pytest

from pipeline.stack.tls import issue

pytestmark = pytest.mark.security


def _handshake(files_cert: Path, files_key: Path, ca: Path, server_hostname: str) -> None:
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(files_cert, files_key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except (ssl.SSLError, OSError):
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        client_ctx = ssl.create_default_context(cafile=str(ca))
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                client_ctx.wrap_socket(raw, server_hostname=server_hostname) as tls:
            tls.sendall(b"x")
    finally:
        thread.join(timeout=10)
        listener.close()


def test_server_certificates_verify_against_the_ca_for_their_names_only(tmp_path: Path) -> None:
    issued = issue(tmp_path / "certs", {"kafka": ["kafka", "localhost", "127.0.0.1"]})
    files, ca = issued["kafka"], tmp_path / "certs" / "public" / "ca.crt"
    _handshake(files.cert, files.key, ca, "localhost")
    _handshake(files.cert, files.key, ca, "kafka")
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(files.cert, files.key, ca, "elasticsearch")


def test_keys_are_private_and_the_ca_is_reused(tmp_path: Path) -> None:
    out = tmp_path / "certs"
    issue(out, {"kafka": ["kafka"]})
    ca_before = (out / "public" / "ca.crt").read_bytes()
    issue(out, {"kafka": ["kafka"], "elasticsearch": ["elasticsearch"]})
    assert (out / "public" / "ca.crt").read_bytes() == ca_before
    for path in [out / "ca" / "ca.key", out / "kafka" / "kafka.key", out / "kafka" / "kafka.pem"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for folder in [out / "ca", out / "kafka", out / "elasticsearch"]:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert (out / "kafka" / "kafka.pem").read_text().startswith("-----BEGIN PRIVATE KEY-----")
