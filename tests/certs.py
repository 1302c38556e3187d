"""Test certificates made on the fly with ``cryptography``: a CA, a server certificate for
127.0.0.1/localhost, and client certificates (one from the CA, one from an unrelated CA)."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class CertFiles:
    ca: Path  # the CA certificate (trust anchor for both sides)
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    rogue_cert: Path  # a client certificate from another CA
    rogue_key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        b = b.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        b = b.add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        b = b.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server:
        b = b.add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
    return b.sign(issuer_key, hashes.SHA256())


def make_certs(directory: Path) -> CertFiles:
    """Write a CA, a server and two client certificates (PEM) into ``directory``."""
    pem = serialization.Encoding.PEM
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _issue("vncterm test CA", ca_key, _name("vncterm test CA"), ca_key, ca=True)
    rogue_ca_key = ec.generate_private_key(ec.SECP256R1())
    files = CertFiles(
        *(
            directory / n
            for n in (
                "ca.pem",
                "server.pem",
                "server.key",
                "client.pem",
                "client.key",
                "rogue.pem",
                "rogue.key",
            )
        )
    )
    files.ca.write_bytes(ca_cert.public_bytes(pem))
    for cert_path, key_path, cn, issuer_key, issuer, server in (
        (files.server_cert, files.server_key, "localhost", ca_key, ca_cert.subject, True),
        (files.client_cert, files.client_key, "alice", ca_key, ca_cert.subject, False),
        (files.rogue_cert, files.rogue_key, "mallory", rogue_ca_key, _name("rogue CA"), False),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        cert_path.write_bytes(_issue(cn, key, issuer, issuer_key, server=server).public_bytes(pem))
        _write_key(key, key_path)
    return files
