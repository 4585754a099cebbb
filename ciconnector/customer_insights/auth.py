"""Entra ID tokens for the CI API, via MSAL, in the credential mode the settings choose.

``secret`` and ``certificate`` use MSAL's ``ConfidentialClientApplication`` (client credentials
with a client secret, or a client assertion signed with the certificate); ``managedidentity``
uses the function app's own identity through ``msal.ManagedIdentityClient`` (shared with the
storage clients in ``ciconnector.identity``), so no secret or key is kept in app settings.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Callable, Protocol
from urllib.parse import urlsplit

import msal
import requests
from msal.exceptions import MsalError

from ..settings import CustomerInsightsSettings
from .certificate import load_client_certificate
from .ci_errors import AuthenticationError

logger = logging.getLogger(__name__)

MICROSOFT_AUTHORITY_HOSTS = frozenset({
    "login.microsoftonline.com", "login.microsoftonline.us", "login.partner.microsoftonline.cn",
    "login.chinacloudapi.cn", "login.windows.net", "login.microsoft.com", "sts.windows.net",
})
"""Hosts for which MSAL's instance discovery applies; any other authority skips it."""


def token_request(acquire: Callable[[], Any], *, refused: str) -> dict[str, Any]:
    """MSAL's answer to ``acquire()`` when it holds an access token; every failure is an
    :class:`AuthenticationError`: unreachable endpoint, MSAL's own errors (``MsalServiceError`` when
    the token endpoint answers 5xx) and an ``error`` answer (``refused`` starts its message)."""
    try:
        result = acquire()
    except requests.RequestException as exc:
        raise AuthenticationError(f"token endpoint unreachable: {type(exc).__name__}") from None
    except MsalError as exc:
        raise AuthenticationError(f"token endpoint failed: {str(exc)[:200]}",
                                  error_code="token_endpoint_unavailable") from None
    if isinstance(result, dict) and result.get("access_token"):
        return result
    error = result.get("error", "unknown_error") if isinstance(result, dict) else "unknown_error"
    description = (result.get("error_description") or "") if isinstance(result, dict) else ""
    first_line = description.splitlines()[0] if description else ""
    raise AuthenticationError(f"{refused}: {error}: {first_line}".rstrip(": "), error_code=error)


class TokenSource(Protocol):
    """Where a CI client gets its bearer tokens: the app's own (:class:`TokenProvider`) or a user's
    (``on_behalf_of.UserTokens``)."""

    def token(self) -> str: ...

    def invalidate(self) -> None: ...


class TokenProvider:
    """Access tokens for CI calls, cached until five minutes before they expire (MSAL's rule).

    The credential mode is fixed by the settings; :meth:`invalidate` makes the next
    :meth:`token` ask the authority again (after CI answered 401).
    """

    def __init__(self, settings: CustomerInsightsSettings, session: requests.Session):
        self._source: ConfidentialClientTokens | _ManagedIdentityTokens = (
            _ManagedIdentityTokens(settings) if settings.credential == "managedidentity"
            else ConfidentialClientTokens(settings, session))

    def token(self) -> str:
        """Return a valid access token, from cache when possible."""
        return self._source.token()

    def invalidate(self) -> None:
        """Forget cached tokens, so the next :meth:`token` asks the authority again."""
        self._source.invalidate()


class ConfidentialClientTokens:
    """Client credentials grant with a client secret or a certificate."""

    def __init__(self, settings: CustomerInsightsSettings, session: requests.Session, *,
                 token_cache: msal.TokenCache | None = None):
        self._settings = settings
        self._session = session
        self._token_cache = token_cache
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()

    def _credential(self) -> Any:
        if self._settings.credential != "certificate":
            return self._settings.client_secret
        certificate = load_client_certificate(self._settings.client_certificate_path,
                                              password=self._settings.client_certificate_password)
        logger.info("CI client certificate: thumbprint %s, valid until %s", certificate.sha1_thumbprint,
                    f"{certificate.not_after:%Y-%m-%d}")
        return certificate.msal_credential()

    def application(self) -> msal.ConfidentialClientApplication:
        """The MSAL confidential client of the app registration (built once; also used for OBO)."""
        with self._lock:
            if self._app is None:
                authority = self._settings.effective_authority
                credential = self._credential()
                try:
                    self._app = msal.ConfidentialClientApplication(
                        self._settings.client_id,
                        client_credential=credential,
                        authority=authority,
                        http_client=self._session,
                        instance_discovery=urlsplit(authority).hostname in MICROSOFT_AUTHORITY_HOSTS,
                        timeout=self._settings.timeout_seconds,
                        token_cache=self._token_cache,
                    )
                except (ValueError, requests.RequestException, MsalError) as exc:
                    # MsalServiceError: the authority's metadata answered 5xx (Entra ID outage)
                    raise AuthenticationError(f"token authority {authority} is unusable: {exc}") from None
            return self._app

    def token(self) -> str:
        app = self.application()
        result = token_request(lambda: app.acquire_token_for_client(scopes=[self._settings.scope]),
                               refused="token request refused")
        return str(result["access_token"])

    def invalidate(self) -> None:
        app = self._app
        if app is None:
            return
        cache = app.token_cache
        for entry in list(cache.search(cache.CredentialType.ACCESS_TOKEN)):
            cache.remove_at(entry)


class _ManagedIdentityTokens:
    """The function app's managed identity (system-assigned, or the user-assigned one named)."""

    def __init__(self, settings: CustomerInsightsSettings):
        from ..identity import managed_identity_credential  # azure-core is only needed in this mode

        self._scope = settings.scope
        self._credential = managed_identity_credential(client_id=settings.managed_identity_client_id or None,
                                                       ca_bundle=settings.identity_ca_bundle)
        self._refresh = False

    def token(self) -> str:
        from ..identity import ManagedIdentityTokenError

        # MSAL's managed identity client has no cache removal; a claims challenge is its way to
        # skip the cached token (and tell the endpoint which token to replace).
        claims = json.dumps({"access_token": {"nbf": {"essential": True, "value": str(int(time.time()))}}}) \
            if self._refresh else None
        try:
            token = self._credential.get_token(self._scope, claims=claims)
        except ManagedIdentityTokenError as exc:
            raise AuthenticationError(f"managed identity token refused: {exc.message}",
                                      error_code="managed_identity_unavailable") from None
        self._refresh = False
        return token.token

    def invalidate(self) -> None:
        self._refresh = True
