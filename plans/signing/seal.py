"""Workspace seal certificates: generated on first use (RSA-2048, self-signed), or installed
from an organisation-issued certificate. Private keys are kept encrypted with a key derived
from SECRET_KEY and are never served."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.db import IntegrityError, transaction

from deals.models import Organization
from plans.models import SealCertificate


def _passphrase(organization: Organization) -> bytes:
    material = f"tandem-seal:{organization.public_id}:{settings.SECRET_KEY}".encode()
    return base64.urlsafe_b64encode(hashlib.sha256(material).digest())


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def _store(organization: Organization, cert: x509.Certificate, key, source: str) -> SealCertificate:
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(_passphrase(organization)),
    ).decode()
    seal, _ = SealCertificate.objects.update_or_create(
        organization=organization,
        defaults={
            "certificate_pem": cert.public_bytes(serialization.Encoding.PEM).decode(),
            "encrypted_key_pem": encrypted,
            "source": source,
            "fingerprint": _fingerprint(cert),
        },
    )
    return seal


def generate_seal(organization: Organization) -> SealCertificate:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{organization.name} document seal"[:64]),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization.name[:64]),
        ]
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return _store(organization, cert, key, "generated")


def seal_for(organization: Organization) -> SealCertificate:
    """The workspace's seal, generated on first use (safe under concurrency)."""
    seal = SealCertificate.objects.filter(organization=organization).first()
    if seal is not None:
        return seal
    try:
        with transaction.atomic():
            return generate_seal(organization)
    except IntegrityError:  # another process generated it first
        return SealCertificate.objects.get(organization=organization)


def install_seal(
    organization: Organization, *, key_pem: bytes, cert_pem: bytes, password: bytes | None = None
) -> SealCertificate:
    """Install an organisation-issued certificate and its key (PEM)."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    key = serialization.load_pem_private_key(key_pem, password=password)
    if cert.public_key().public_numbers() != key.public_key().public_numbers():
        raise ValueError("The private key does not belong to the certificate.")
    return _store(organization, cert, key, "installed")


def load_key_and_cert(seal: SealCertificate):
    """(cryptography private key, cryptography certificate) of a seal."""
    key = serialization.load_pem_private_key(
        seal.encrypted_key_pem.encode(), password=_passphrase(seal.organization)
    )
    cert = x509.load_pem_x509_certificate(seal.certificate_pem.encode())
    return key, cert
