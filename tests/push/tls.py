"""A certificate authority made for one test run: server and client certificates on 127.0.0.1."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def key_pem(key: CertificateIssuerPrivateKeyTypes) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


class Authority:
    """A self-signed CA and the certificates it issues."""

    def __init__(self, name: str = "hubbub push tests CA") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )

    @property
    def pem(self) -> str:
        return cert_pem(self.cert)

    def issue(
        self,
        subject: x509.Name | None = None,
        *,
        client: bool = False,
        lifetime: datetime.timedelta = datetime.timedelta(hours=1),
    ) -> tuple[str, str]:
        """A certificate and its key, PEM: for 127.0.0.1, or a client's (RSA, as Apple's).
        A negative ``lifetime`` makes one that has expired."""
        key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
        key = (
            rsa.generate_private_key(65537, 2048)
            if client
            else ec.generate_private_key(ec.SECP256R1())
        )
        now = datetime.datetime.now(datetime.UTC)
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "local")]))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(
                now + min(lifetime, datetime.timedelta()) - datetime.timedelta(days=1)
            )
            .not_valid_after(now + lifetime)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        if not client:
            address = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
            builder = builder.add_extension(x509.SubjectAlternativeName([address]), critical=False)
        return cert_pem(builder.sign(self.key, hashes.SHA256())), key_pem(key)

    def trusting(self) -> ssl.SSLContext:
        """A client's TLS context that trusts this CA (and nothing else)."""
        return ssl.create_default_context(cadata=self.pem)

    def server_files(self, directory: Path) -> tuple[Path, Path, Path]:
        """A server certificate, its key and this CA's certificate, written to ``directory``."""
        cert, key = self.issue()
        paths = directory / "server.pem", directory / "server.key", directory / "ca.pem"
        for path, text in zip(paths, (cert, key, self.pem), strict=True):
            path.write_text(text)
        return paths
