"""The app registration's client certificate, loaded once and checked before MSAL signs with it.

MSAL would accept the file's parts as they are, but a wrong password, a key that belongs to
another certificate or an expired certificate then surfaces as an opaque signing error or an
Entra refusal. Loading here names the problem, and computes the thumbprints from the
certificate so no one has to copy a thumbprint into the settings.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from .ci_errors import AuthenticationError

_PEM_KEY = re.compile(rb"-----BEGIN (?:RSA |ENCRYPTED )?PRIVATE KEY-----.+?"
                      rb"-----END (?:RSA |ENCRYPTED )?PRIVATE KEY-----",
                      re.DOTALL)


@dataclass(frozen=True)
class ClientCertificate:
    """A private key with its certificate (leaf first, then any chain).

    Attributes:
        sha1_thumbprint / sha256_thumbprint: hex thumbprints of the leaf, as the Azure portal
            shows them (SHA-1) and as MSAL sends them (``x5t#S256``).
        not_after: end of the leaf's validity.
    """

    private_key_pem: str = field(repr=False)
    certificate_pem: str
    sha1_thumbprint: str
    sha256_thumbprint: str
    not_after: datetime

    def msal_credential(self) -> dict[str, str]:
        """MSAL's ``client_credential``: with ``public_certificate`` MSAL computes the SHA-256
        thumbprint, signs with PS256 and sends ``x5c``, so subject name/issuer (SNI) registrations
        work as well as uploaded certificates."""
        return {"private_key": self.private_key_pem, "public_certificate": self.certificate_pem}


def load_client_certificate(path: str, *, password: str = "", now: datetime | None = None) -> ClientCertificate:
    """Read a PEM (key + certificate) or PFX/PKCS#12 file; raises :class:`AuthenticationError`
    naming what is wrong with it (never its content)."""
    where = f"client certificate {path}"
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise AuthenticationError(f"{where}: cannot be read ({type(exc).__name__})",
                                  error_code="certificate_unreadable") from None
    secret = password.encode() if password else None
    key, certificates = _read_pem(data, secret, where) if b"-----BEGIN" in data else _read_pfx(data, secret, where)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise AuthenticationError(f"{where}: the private key must be RSA (Entra ID signs client assertions "
                                  "with RS256/PS256)", error_code="certificate_key_type")
    public = key.public_key().public_numbers()
    leaf = next((c for c in certificates if isinstance(c.public_key(), rsa.RSAPublicKey)
                 and c.public_key().public_numbers() == public), None)
    if leaf is None:
        raise AuthenticationError(f"{where}: no certificate in the file matches its private key",
                                  error_code="certificate_key_mismatch")
    moment = now or datetime.now(timezone.utc)
    sha1 = leaf.fingerprint(hashes.SHA1()).hex().upper()  # the thumbprint Azure shows
    if moment >= leaf.not_valid_after_utc:
        raise AuthenticationError(f"{where} (thumbprint {sha1}) expired on {leaf.not_valid_after_utc:%Y-%m-%d %H:%M}Z",
                                  error_code="certificate_expired")
    if moment < leaf.not_valid_before_utc:
        raise AuthenticationError(f"{where} (thumbprint {sha1}) is not valid before "
                                  f"{leaf.not_valid_before_utc:%Y-%m-%d %H:%M}Z",
                                  error_code="certificate_not_yet_valid")
    chain = [leaf, *(c for c in certificates if c is not leaf)]
    return ClientCertificate(
        private_key_pem=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()).decode(),
        certificate_pem="".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in chain),
        sha1_thumbprint=sha1,
        sha256_thumbprint=leaf.fingerprint(hashes.SHA256()).hex().upper(),
        not_after=leaf.not_valid_after_utc)


def _read_pem(data: bytes, password: bytes | None, where: str):
    found = _PEM_KEY.search(data)
    if found is None:
        raise AuthenticationError(f"{where}: the PEM file holds no private key", error_code="certificate_no_key")
    encrypted = b"ENCRYPTED" in found.group(0)  # PKCS#8 "ENCRYPTED PRIVATE KEY" or a legacy "Proc-Type: 4,ENCRYPTED"
    try:
        key = serialization.load_pem_private_key(found.group(0), password if encrypted else None)
    except TypeError:
        raise AuthenticationError(f"{where}: the private key is encrypted; set CI_CLIENT_CERTIFICATE_PASSWORD",
                                  error_code="certificate_password_missing") from None
    except ValueError:
        raise AuthenticationError(f"{where}: the private key cannot be decrypted (wrong "
                                  "CI_CLIENT_CERTIFICATE_PASSWORD?) or is malformed",
                                  error_code="certificate_bad_key") from None
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        certificates = []
    if not certificates:
        raise AuthenticationError(f"{where}: the PEM file holds no certificate next to its key",
                                  error_code="certificate_missing")
    return key, certificates


def _read_pfx(data: bytes, password: bytes | None, where: str):
    try:
        key, leaf, extra = pkcs12.load_key_and_certificates(data, password)
    except ValueError:
        raise AuthenticationError(f"{where}: not a PEM file, and not a PFX that opens with the given "
                                  "CI_CLIENT_CERTIFICATE_PASSWORD", error_code="certificate_bad_pfx") from None
    if key is None or leaf is None:
        raise AuthenticationError(f"{where}: the PFX must hold a private key and its certificate",
                                  error_code="certificate_incomplete_pfx")
    return key, [leaf, *extra]
