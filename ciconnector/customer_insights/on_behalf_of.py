"""CI clients acting for a signed-in user: the user's token exchanged through MSAL's on-behalf-of flow.

The app registration (its client secret or certificate, as for its own calls) presents the user's
access token and gets a CI token for that user, so CI's own roles decide what the call may do.
MSAL's ``acquire_token_on_behalf_of`` always asks the authority, so tokens are cached here, per
user (tenant and object id, not per incoming token: Power Automate sends a fresh token every hour
for the same person), and renewed :data:`RENEW_BEFORE_SECONDS` before they expire.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

import msal
import requests

from ..settings import CustomerInsightsSettings
from .auth import ConfidentialClientTokens, token_request
from .client import CustomerInsightsClient
from .transport import build_session

RENEW_BEFORE_SECONDS = 300
"""A cached token this close to its expiry is renewed (MSAL's own rule for app tokens)."""
MAX_CACHED_USERS = 10_000
"""Bound of the per-user cache; expired entries go first, then the oldest."""


class _NoTokenCache(msal.TokenCache):
    """MSAL's cache is never read for on-behalf-of tokens, so it would only grow: keep nothing."""

    def add(self, event, **kwargs):  # noqa: ANN001 - msal's untyped signature
        return None


class OnBehalfOfExchange:
    """Exchanges users' access tokens for CI tokens, cached per user."""

    def __init__(self, settings: CustomerInsightsSettings, session: requests.Session,
                 clock: Callable[[], float] = time.time):
        self._settings = settings
        self._confidential = ConfidentialClientTokens(settings, session, token_cache=_NoTokenCache())
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}

    def token(self, user_key: str, assertion: str) -> str:
        """A CI token for the user ``user_key`` (``<tid>/<oid>``) whose access token is ``assertion``."""
        now = self._clock()
        with self._lock:
            cached = self._tokens.get(user_key)
        if cached is not None and cached[1] - RENEW_BEFORE_SECONDS > now:
            return cached[0]
        token, expires_in = self._exchange(assertion)
        with self._lock:
            if len(self._tokens) >= MAX_CACHED_USERS:
                self._tokens = {k: v for k, v in self._tokens.items() if v[1] > now}
                while len(self._tokens) >= MAX_CACHED_USERS:
                    self._tokens.pop(next(iter(self._tokens)))
            self._tokens[user_key] = (token, now + expires_in)
        return token

    def forget(self, user_key: str) -> None:
        """Drop the user's cached token (CI refused it), so the next call exchanges again."""
        with self._lock:
            self._tokens.pop(user_key, None)

    def _exchange(self, assertion: str) -> tuple[str, float]:
        app = self._confidential.application()
        result = token_request(lambda: app.acquire_token_on_behalf_of(assertion, scopes=[self._settings.scope]),
                               refused="on-behalf-of exchange refused")
        return str(result["access_token"]), float(result.get("expires_in") or 0)


class UserTokens:
    """The token source of one user's CI client (see ``auth.TokenSource``)."""

    def __init__(self, exchange: OnBehalfOfExchange, user_key: str, assertion: str):
        self._exchange = exchange
        self._user_key = user_key
        self._assertion = assertion

    def token(self) -> str:
        return self._exchange.token(self._user_key, self._assertion)

    def invalidate(self) -> None:
        self._exchange.forget(self._user_key)


class DelegatedClients:
    """Makes a CI client per request that acts for its user; the exchange and connection pool are shared."""

    def __init__(self, settings: CustomerInsightsSettings, session: requests.Session | None = None):
        self._settings = settings
        self._session = session or build_session(settings)
        self.exchange = OnBehalfOfExchange(settings, self._session)

    def for_user(self, user_key: str, assertion: str) -> CustomerInsightsClient:
        """A client whose calls carry the CI token of ``user_key``, exchanged from ``assertion``."""
        return CustomerInsightsClient(self._settings, session=self._session,
                                      tokens=UserTokens(self.exchange, user_key, assertion))
