"""A private certificate authority and server certificates for Kafka and Elasticsearch.

Both services speak TLS with PEM files: Elasticsearch reads ``xpack.security.http.ssl.key``
and ``.certificate``; Kafka reads a PEM "keystore" (the PKCS#8 key followed by the
certificate chain) and a PEM truststore.  Clients verify the servers against the CA
(``NEWSFLOW_KAFKA_SSL_CAFILE``, ``NEWSFLOW_ES_CA_FILE``).  Used by ``newsflow certs`` (the
compose deployment's one-shot ``certs`` service) and by the local stack.

Everything is written 0600 (the CA certificate 0644: it is public) into 0700 folders, and
nothing is overwritten: an existing CA is reused, so certificates can be added later.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_DAYS_CA = 3650
_DAYS_SERVER = 825  # what browsers and most TLS stacks still accept for a leaf


@dataclass(frozen=True, slots=True)
class ServerFiles:
    key: Path  # PKCS#8 PEM, 0600
    cert: Path  # the server certificate, then the CA's
    keystore: Path  # key + chain in one PEM file (Kafka's ssl.keystore.type=PEM)


def ensure_ca(folder: Path) -> tuple[Path, Path]:
    """``(ca.crt, ca.key)`` in ``folder``, made on first call."""
    _private_dir(folder)
    cert_path, key_path = folder / "ca.crt", folder / "ca.key"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "newsflow local CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_DAYS_CA))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
        .sign(key, hashes.SHA256())
    )
    _write(key_path, _key_pem(key), 0o600)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert_path, key_path


def issue(out: Path, servers: Mapping[str, Sequence[str]]) -> dict[str, ServerFiles]:
    """The layout ``newsflow certs`` writes: ``out/ca`` (0700: the CA key), ``out/public``
    (the CA certificate, readable by every client) and one 0700 folder per server holding
    its key, chain, PEM keystore and a copy of the CA certificate (its truststore)."""
    out.mkdir(parents=True, exist_ok=True)
    ca = ensure_ca(out / "ca")
    public = out / "public"
    public.mkdir(mode=0o755, exist_ok=True)
    _write(public / "ca.crt", ca[0].read_bytes(), 0o644)
    issued = {}
    for name, hosts in servers.items():
        files = ensure_server_cert(out / name, name, hosts, ca=ca)
        _write(out / name / "ca.crt", ca[0].read_bytes(), 0o644)
        issued[name] = files
    return issued


def ensure_server_cert(
    folder: Path, name: str, hosts: Sequence[str], *, ca: tuple[Path, Path]
) -> ServerFiles:
    """A certificate for ``hosts`` (names and IP addresses) signed by ``ca``, made once."""
    _private_dir(folder)
    files = ServerFiles(folder / f"{name}.key", folder / f"{name}.crt", folder / f"{name}.pem")
    if files.key.exists() and files.cert.exists() and files.keystore.exists():
        return files
    ca_cert = x509.load_pem_x509_certificate(ca[0].read_bytes())
    ca_key = serialization.load_pem_private_key(ca[1].read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_DAYS_SERVER))
        .add_extension(x509.SubjectAlternativeName(list(_alt_names(hosts))), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                   ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )  # fmt: skip
        .sign(ca_key, hashes.SHA256())
    )
    chain = cert.public_bytes(serialization.Encoding.PEM) + ca[0].read_bytes()
    _write(files.key, _key_pem(key), 0o600)
    _write(files.cert, chain, 0o600)
    _write(files.keystore, _key_pem(key) + chain, 0o600)
    return files


def _alt_names(hosts: Iterable[str]) -> Iterable[x509.GeneralName]:
    for host in hosts:
        try:
            yield x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            yield x509.DNSName(host)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _private_dir(folder: Path) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    os.chmod(path, mode)
