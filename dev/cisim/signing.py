"""The authority's RS256 signing keys: two published in the JWKS, tokens signed by the current one.

Entra ID publishes several keys and rolls them over without notice, so a resource API must pick
the key by ``kid`` and refetch the JWKS when it meets a ``kid`` it does not know. :meth:`rotate`
makes that happen on demand: a new key becomes current, the previous current key stays published
(tokens it signed remain valid), the older one is dropped.
"""
from __future__ import annotations

import base64
import secrets
import threading
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


@dataclass(frozen=True)
class SigningKey:
    """One RSA key pair and its ``kid``."""

    kid: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh 2048-bit key with a random ``kid`` (Entra's kids are base64url strings)."""
        kid = base64.urlsafe_b64encode(secrets.token_bytes(20)).rstrip(b"=").decode()
        return cls(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def jwk(self) -> dict[str, Any]:
        """The public key as Entra publishes it (``kty``, ``use``, ``kid``, ``n``, ``e``)."""
        public = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {"kty": "RSA", "use": "sig", "kid": self.kid, "n": public["n"], "e": public["e"]}


class SigningKeys:
    """The current signing key and the previous one, both published."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current = SigningKey.generate()
        self._previous = SigningKey.generate()

    @property
    def current_kid(self) -> str:
        """The ``kid`` new tokens carry."""
        return self._current.kid

    def jwks(self) -> dict[str, Any]:
        """``{"keys": [...]}``: the current key first, then the previous one."""
        with self._lock:
            return {"keys": [self._current.jwk(), self._previous.jwk()]}

    def sign(self, claims: dict[str, Any]) -> str:
        """``claims`` as a JWT signed RS256 by the current key."""
        with self._lock:
            key = self._current
        return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"typ": "JWT", "kid": key.kid})

    def public_key(self, kid: str) -> Any:
        """The published public key named ``kid``, or None."""
        with self._lock:
            for key in (self._current, self._previous):
                if key.kid == kid:
                    return key.private_key.public_key()
        return None

    def rotate(self) -> str:
        """Make a new key current, keep the old current one published; returns the new ``kid``."""
        fresh = SigningKey.generate()
        with self._lock:
            self._previous, self._current = self._current, fresh
        return fresh.kid
