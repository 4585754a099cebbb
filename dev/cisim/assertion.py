"""Client assertions (``private_key_jwt``) checked the way Entra ID checks them, dev only.

An app registration may hold certificates instead of secrets; the token endpoint then receives
``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`` and a JWT
signed with the certificate's private key. The checks below are the ones a client can get
wrong: the thumbprint header (``x5t`` SHA-1 or ``x5t#S256``) must name a registered, unexpired
certificate, the signature must verify with it (RS256/PS256), ``aud`` must be the token
endpoint, ``iss`` and ``sub`` the client id, and ``exp``/``nbf`` must hold (5 minutes of skew).
Failures carry Entra's AADSTS codes.
"""
from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ("RS256", "PS256")
CLOCK_SKEW = 300
CLIENT_CERT_FILE = "client-cert.pem"


class AssertionRejected(Exception):
    """The assertion fails a check; ``code`` is the AADSTS number, ``description`` its text."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(f"AADSTS{code}: {description}")
        self.code = code
        self.description = description


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class Registered:
    """A certificate registered on the app (its public part, as uploaded to the portal)."""

    certificate: x509.Certificate

    @property
    def sha1(self) -> str:
        """The SHA-1 thumbprint in hex, as the portal shows it."""
        return self.certificate.fingerprint(hashes.SHA1()).hex().upper()


class CertificateRegistry:
    """Certificates of the simulated app registration, found by ``x5t`` or ``x5t#S256``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_header: dict[tuple[str, str], Registered] = {}

    def register(self, certificate_pem: bytes | str) -> str:
        """Register the first certificate in ``certificate_pem``; returns its SHA-1 thumbprint."""
        data = certificate_pem.encode() if isinstance(certificate_pem, str) else certificate_pem
        entry = Registered(x509.load_pem_x509_certificate(data))
        with self._lock:
            self._by_header[("x5t", _b64(entry.certificate.fingerprint(hashes.SHA1())))] = entry
            self._by_header[("x5t#S256", _b64(entry.certificate.fingerprint(hashes.SHA256())))] = entry
        return entry.sha1

    def unregister(self, sha1_thumbprint: str) -> None:
        """Remove a certificate (by its hex SHA-1 thumbprint)."""
        with self._lock:
            self._by_header = {k: v for k, v in self._by_header.items() if v.sha1 != sha1_thumbprint.upper()}

    def find(self, header: dict) -> Registered:
        """The certificate the JWT header names; rejects a missing, unknown or inconsistent thumbprint."""
        named = [(name, header[name].rstrip("=")) for name in ("x5t#S256", "x5t") if isinstance(header.get(name), str)]
        if not named:
            raise AssertionRejected(700027, "Client assertion failed signature validation. [Reason - The "
                                            "assertion has neither an 'x5t' nor an 'x5t#S256' header.]")
        with self._lock:
            found = {self._by_header.get(key) for key in named}
        if None in found:
            raise AssertionRejected(700027, "Client assertion failed signature validation. [Reason - The key was "
                                            f"not found., Thumbprint of key used by client: '{_hex(named[0][1])}']")
        if len(found) > 1:
            raise AssertionRejected(700027, "Client assertion failed signature validation. [Reason - 'x5t' and "
                                            "'x5t#S256' name different certificates.]")
        return next(entry for entry in found if entry is not None)


def verify(assertion: str, *, client_id: str, token_endpoint: str, registry: CertificateRegistry,
           now: float | None = None) -> None:
    """Check one client assertion for ``client_id``; raises :class:`AssertionRejected`."""
    moment = time.time() if now is None else now
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.InvalidTokenError:
        raise AssertionRejected(50027, "JWT token is invalid or malformed.") from None
    if header.get("alg") not in ALGORITHMS:
        raise AssertionRejected(5002738, f"Invalid JWT token. '{header.get('alg')}' is not a supported signature "
                                         f"algorithm. Supported signing algorithms are: '{', '.join(ALGORITHMS)}'")
    entry = registry.find(header)
    certificate = entry.certificate
    if certificate.not_valid_after_utc.timestamp() <= moment:
        raise AssertionRejected(700027, "Client assertion failed signature validation. [Reason - The key used is "
                                        f"expired., Thumbprint of key used by client: '{entry.sha1}']")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):  # RS256 and PS256 verify only with an RSA key
        raise AssertionRejected(700027, "Client assertion failed signature validation. [Reason - The provided "
                                        "signature value did not match the expected signature value., Thumbprint "
                                        f"of key used by client: '{entry.sha1}']")
    try:
        claims = jwt.decode(assertion, key, algorithms=[header["alg"]],
                            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                                     "verify_aud": False, "verify_iss": False})
    except jwt.InvalidSignatureError:
        raise AssertionRejected(700027, "Client assertion failed signature validation. [Reason - The provided "
                                        "signature value did not match the expected signature value., Thumbprint "
                                        f"of key used by client: '{entry.sha1}']") from None
    except jwt.InvalidTokenError:
        raise AssertionRejected(50027, "JWT token is invalid or malformed.") from None
    if claims.get("aud") != token_endpoint:
        raise AssertionRejected(700023, f"Client assertion audience claim does not match Realm issuer. The 'aud' "
                                        f"claim must be '{token_endpoint}', got '{claims.get('aud')}'.")
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise AssertionRejected(700021, "Client assertion application identifier doesn't match 'client_id' "
                                        "parameter: 'iss' and 'sub' must both be the client id.")
    expiry, not_before = claims.get("exp"), claims.get("nbf")
    if not isinstance(expiry, (int, float)):
        raise AssertionRejected(50027, "JWT token is invalid or malformed: the 'exp' claim is required.")
    if expiry + CLOCK_SKEW <= moment or (isinstance(not_before, (int, float)) and not_before - CLOCK_SKEW > moment):
        raise AssertionRejected(700024, f"Client assertion is not within its valid time range. Current time: "
                                        f"{_iso(moment)}, expiry time of assertion {_iso(expiry)}.")


def _hex(thumbprint: str) -> str:
    """A base64url thumbprint header in the hex form Entra's messages and the portal use."""
    try:
        return base64.urlsafe_b64decode(thumbprint + "=" * (-len(thumbprint) % 4)).hex().upper()
    except ValueError:
        return thumbprint


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def load_or_create_client_certificate(directory: Path, *, days: int = 365) -> Path:
    """A self-signed RSA client certificate for the simulated app, as one PEM file with the key.

    Like ``credentials.json`` it stays in the state directory, so a local app configured with
    ``CI_CLIENT_CERTIFICATE_PATH`` keeps working across simulator restarts; it is renewed when
    less than a day of validity is left.
    """
    path = directory / CLIENT_CERT_FILE
    if path.exists():
        existing = x509.load_pem_x509_certificates(path.read_bytes())
        if existing and existing[0].not_valid_after_utc > datetime.now(timezone.utc) + timedelta(days=1):
            return path
    path.write_bytes(b"".join(make_self_signed(days=days)))
    path.chmod(0o600)
    return path


def make_self_signed(*, days: int = 365, not_before: datetime | None = None,
                     common_name: str = "ci-connector-dev") -> tuple[bytes, bytes]:
    """(private key PEM, certificate PEM) of a new self-signed RSA-2048 certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    start = not_before or datetime.now(timezone.utc) - timedelta(minutes=5)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(start)
                   .not_valid_after(start + timedelta(days=days)).sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM)
