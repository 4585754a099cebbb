"""Entra ID client-credentials tokens for the CI API, via MSAL."""
from __future__ import annotations

import threading
from urllib.parse import urlsplit

import msal
import requests

from ..settings import CustomerInsightsSettings
from .errors import AuthenticationError

MICROSOFT_AUTHORITY_HOSTS = frozenset({
    "login.microsoftonline.com", "login.microsoftonline.us", "login.partner.microsoftonline.cn",
    "login.chinacloudapi.cn", "login.windows.net", "login.microsoft.com", "sts.windows.net",
})
"""Hosts for which MSAL's instance discovery applies; any other authority skips it."""


class TokenProvider:
    """Acquires and caches access tokens with MSAL's ``ConfidentialClientApplication``.

    MSAL keeps the token in its in-process cache and fetches a new one when the cached
    token is within five minutes of expiry, so calls renew before the token lapses.
    """

    def __init__(self, settings: CustomerInsightsSettings, session: requests.Session):
        self._settings = settings
        self._session = session
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()

    def _application(self) -> msal.ConfidentialClientApplication:
        with self._lock:
            if self._app is None:
                authority = self._settings.effective_authority
                try:
                    self._app = msal.ConfidentialClientApplication(
                        self._settings.client_id,
                        client_credential=self._settings.client_secret,
                        authority=authority,
                        http_client=self._session,
                        instance_discovery=urlsplit(authority).hostname in MICROSOFT_AUTHORITY_HOSTS,
                        timeout=self._settings.timeout_seconds,
                    )
                except (ValueError, requests.RequestException) as exc:
                    raise AuthenticationError(f"token authority {authority} is unusable: {exc}") from None
            return self._app

    def token(self) -> str:
        """Return a valid access token, from cache when possible."""
        app = self._application()
        try:
            result = app.acquire_token_for_client(scopes=[self._settings.scope])
        except requests.RequestException as exc:
            raise AuthenticationError(f"token endpoint unreachable: {type(exc).__name__}") from None
        token = result.get("access_token") if isinstance(result, dict) else None
        if not token:
            error = result.get("error", "unknown_error") if isinstance(result, dict) else "unknown_error"
            description = (result.get("error_description") or "") if isinstance(result, dict) else ""
            raise AuthenticationError(f"token request refused: {error}: {description.splitlines()[0] if description else ''}".rstrip(": "),
                                      error_code=error)
        return token

    def invalidate(self) -> None:
        """Forget cached tokens, so the next :meth:`token` asks the authority again."""
        app = self._app
        if app is None:
            return
        cache = app.token_cache
        for entry in list(cache.search(cache.CredentialType.ACCESS_TOKEN)):
            cache.remove_at(entry)
