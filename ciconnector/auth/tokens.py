"""Validation of Entra ID v2.0 access tokens issued for the backend's own app registration.

A token is accepted only when every check passes: ``RS256`` signature by a key the token's tenant
publishes (JWKS at ``<authority host>/<tid>/discovery/v2.0/keys``, fetched with requests and cached;
an unknown ``kid`` refetches once, at most every :data:`JWKS_MIN_REFRESH_SECONDS`, because Entra
rolls keys over without notice), issuer ``<authority host>/<tid>/v2.0``, an allowed tenant, one of
our audiences, ``exp``/``nbf`` with :data:`CLOCK_SKEW_SECONDS` of leeway, a user (``oid`` and the
delegated scope in ``scp``). The tenant is read before the signature is checked only to choose
which tenant's keys to use: a tenant outside the allowlist is refused without any fetch.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

import jwt
import requests

from ..errors import Unauthenticated, Unavailable
from ..settings import AuthSettings
from .principal import Principal

logger = logging.getLogger(__name__)

CLOCK_SKEW_SECONDS = 60
"""Leeway on ``exp``/``nbf`` for clock differences between Entra ID and the function app."""
JWKS_MAX_AGE_SECONDS = 24 * 3600
"""A tenant's keys are refetched at least daily even when every ``kid`` is known."""
JWKS_MIN_REFRESH_SECONDS = 5
"""An unknown ``kid`` refetches a tenant's keys at most this often, so forged ``kid``s cannot flood Entra."""
UNKNOWN_KID_MEMORY_SECONDS = 300
"""A ``kid`` a fresh fetch did not publish is not looked up again for this long."""
JWKS_TIMEOUT_SECONDS = 10


class TenantKeys:
    """The signing keys each allowed tenant publishes, cached."""

    def __init__(self, settings: AuthSettings, session: requests.Session,
                 clock: Callable[[], float] = time.monotonic):
        self._settings = settings
        self._session = session
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[float, dict[str, Any]]] = {}
        self._unknown: dict[tuple[str, str], float] = {}

    def key(self, tenant_id: str, kid: str) -> Any:
        """The public key ``kid`` of ``tenant_id``, or None when the tenant does not publish it."""
        with self._lock:
            now = self._clock()
            fetched, keys = self._keys.get(tenant_id, (float("-inf"), {}))
            age = now - fetched
            missed = now - self._unknown.get((tenant_id, kid), float("-inf")) < UNKNOWN_KID_MEMORY_SECONDS
            if age >= JWKS_MAX_AGE_SECONDS or (kid not in keys and not missed and age >= JWKS_MIN_REFRESH_SECONDS):
                keys = self._fetch(tenant_id)
                self._keys[tenant_id] = (now, keys)
                self._unknown = {k: t for k, t in self._unknown.items() if now - t < UNKNOWN_KID_MEMORY_SECONDS}
            if kid not in keys:
                self._unknown.setdefault((tenant_id, kid), now)
        return keys.get(kid)

    def _fetch(self, tenant_id: str) -> dict[str, Any]:
        url = f"{self._settings.authority_host}/{tenant_id}/discovery/v2.0/keys"
        try:
            response = self._session.get(url, timeout=JWKS_TIMEOUT_SECONDS)
            response.raise_for_status()
            published = response.json().get("keys", [])
        except (requests.RequestException, ValueError, AttributeError) as exc:
            logger.warning("signing keys of tenant %s unavailable: %s", tenant_id, type(exc).__name__)
            raise Unavailable("AuthorityUnavailable", "The sign-in service's keys could not be read; retry later.",
                              headers={"Retry-After": "10"}) from None
        keys = {}
        for jwk in published if isinstance(published, list) else []:
            if isinstance(jwk, dict) and jwk.get("kty") == "RSA" and jwk.get("kid") and jwk.get("use", "sig") == "sig":
                try:
                    keys[str(jwk["kid"])] = jwt.PyJWK(jwk, algorithm="RS256").key
                except jwt.PyJWTError:
                    continue
        logger.info("signing keys of tenant %s: %d published", tenant_id, len(keys))
        return keys


class TokenValidator:
    """Turns a bearer token into the :class:`Principal` it proves, or raises ``Unauthenticated``."""

    def __init__(self, settings: AuthSettings, session: requests.Session | None = None):
        self._settings = settings
        self._keys = TenantKeys(settings, session or _session(settings))

    def validate(self, token: str) -> Principal:
        """The principal of a valid token; ``Unauthenticated`` (401) naming the failed check otherwise."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise Unauthenticated("InvalidToken", "The access token is malformed.") from None
        if header.get("alg") != "RS256":
            raise Unauthenticated("InvalidToken", "The access token must be signed with RS256.")
        tenant_id = str(unverified.get("tid", "")).lower()
        if tenant_id not in self._settings.allowed_tenants:
            raise Unauthenticated("TenantNotAllowed", "Users of this tenant may not call this connector.")
        key = self._keys.key(tenant_id, str(header.get("kid", "")))
        if key is None:
            raise Unauthenticated("InvalidToken", "The access token is not signed by a key of its tenant.")
        try:
            claims = jwt.decode(token, key, algorithms=["RS256"], audience=list(self._settings.audiences),
                                issuer=f"{self._settings.authority_host}/{tenant_id}/v2.0", leeway=CLOCK_SKEW_SECONDS,
                                options={"require": ["exp", "iss", "aud", "tid", "oid"]})
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("TokenExpired", "The access token has expired.") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated("InvalidAudience", "The access token is not for this connector.") from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated("InvalidIssuer", "The access token has the wrong issuer.") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated("InvalidToken", f"The access token is not valid ({type(exc).__name__}).") from None
        scopes = frozenset(str(claims.get("scp", "")).split())
        if not scopes:
            raise Unauthenticated("UserTokenRequired", "The access token must act for a signed-in user.")
        if self._settings.required_scope not in scopes:
            raise Unauthenticated("InsufficientScope", f"The access token lacks the "
                                                       f"'{self._settings.required_scope}' scope.")
        roles = claims.get("roles")
        return Principal(tenant_id=tenant_id, object_id=str(claims["oid"]).lower(), name=str(claims.get("name", "")),
                         username=str(claims.get("preferred_username", "")), scopes=scopes,
                         roles=frozenset(str(r) for r in roles) if isinstance(roles, list) else frozenset(),
                         token=token)


def _session(settings: AuthSettings) -> requests.Session:
    session = requests.Session()
    if settings.ca_bundle:
        session.verify = settings.ca_bundle
        session.trust_env = False
    return session
