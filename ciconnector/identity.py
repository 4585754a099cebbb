"""Managed identity tokens from MSAL, shaped as azure-core's ``TokenCredential``.

The storage SDKs take any object with ``get_token(*scopes, **kwargs) -> AccessToken``. MSAL already
ships the managed identity client (App Service / Functions ``IDENTITY_ENDPOINT`` +
``IDENTITY_HEADER``, and the other Azure hosts), so this small adapter avoids a dependency on
azure-identity. MSAL caches each token and asks again when less than five minutes remain.
"""
from __future__ import annotations

import threading
import time
from functools import lru_cache
from typing import Any

import msal
import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError

DEFAULT_SUFFIX = "/.default"
CONNECT_TIMEOUT, READ_TIMEOUT = 5.0, 20.0
"""MSAL passes no timeout; without one an unreachable endpoint (IMDS off Azure) hangs for minutes."""


class ManagedIdentityTokenError(ClientAuthenticationError):
    """No token could be obtained from the managed identity endpoint.

    A ``ClientAuthenticationError`` (an ``AzureError``), so callers that already handle SDK
    failures of a storage call handle this one too. ``error_code`` is there because the tables
    SDK reads it from every ``HttpResponseError`` it re-raises.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message=message)
        self.error_code = "ManagedIdentityTokenUnavailable"


def scope_to_resource(scope: str) -> str:
    """``https://storage.azure.com/.default`` -> ``https://storage.azure.com`` (MSAL's ``resource``)."""
    return scope[: -len(DEFAULT_SUFFIX)] if scope.endswith(DEFAULT_SUFFIX) else scope


class _Session(requests.Session):
    """A session with a default timeout and, when given, a CA bundle passed on every request.

    The CA goes per request because requests lets ``REQUESTS_CA_BUNDLE`` override ``Session.verify``.
    """

    def __init__(self, *, ca_bundle: str | None) -> None:
        super().__init__()
        self._ca_bundle = ca_bundle

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", (CONNECT_TIMEOUT, READ_TIMEOUT))
        if self._ca_bundle:
            kwargs.setdefault("verify", self._ca_bundle)
        return super().request(*args, **kwargs)


class ManagedIdentityCredential:
    """``TokenCredential`` backed by ``msal.ManagedIdentityClient``.

    ``client_id`` or ``resource_id`` selects a user-assigned identity; neither means the
    system-assigned one. ``ca_bundle`` (dev only) verifies an HTTPS identity endpoint such as the
    local simulator's; Azure's own endpoint is plain HTTP on localhost.
    """

    def __init__(self, *, client_id: str | None = None, resource_id: str | None = None,
                 ca_bundle: str | None = None) -> None:
        try:
            identity = (msal.UserAssignedManagedIdentity(client_id=client_id, resource_id=resource_id)
                        if client_id or resource_id else msal.SystemAssignedManagedIdentity())
        except msal.ManagedIdentityError as exc:
            raise ManagedIdentityTokenError(f"invalid managed identity: {exc}") from None
        self._client = msal.ManagedIdentityClient(identity, http_client=_Session(ca_bundle=ca_bundle))
        self._lock = threading.Lock()

    def get_token(self, *scopes: str, claims: str | None = None, tenant_id: str | None = None,
                  enable_cae: bool = False, **kwargs: Any) -> AccessToken:
        """A token for the one resource ``scopes`` names; raises :class:`ManagedIdentityTokenError`."""
        if len(scopes) != 1:
            raise ManagedIdentityTokenError(f"managed identity tokens are for one scope, got {len(scopes)}")
        resource = scope_to_resource(scopes[0])
        asked = time.time()
        try:
            with self._lock:  # one request per expiry, not one per waiting thread
                result = self._client.acquire_token_for_client(resource=resource, claims_challenge=claims)
        except (msal.ManagedIdentityError, requests.RequestException, ValueError) as exc:
            raise ManagedIdentityTokenError(
                f"managed identity endpoint failed for {resource}: {type(exc).__name__}") from None
        if not isinstance(result, dict) or "access_token" not in result:
            error = result.get("error", "no_token") if isinstance(result, dict) else "no_token"
            detail = result.get("error_description", "") if isinstance(result, dict) else ""
            raise ManagedIdentityTokenError(
                f"managed identity token for {resource} refused: {error} {detail}".rstrip())
        return AccessToken(result["access_token"], int(asked) + int(result.get("expires_in", 0)))

    def close(self) -> None:
        """Nothing to release: the session is process-wide (kept for the credential protocol)."""

    def __enter__(self) -> "ManagedIdentityCredential":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@lru_cache(maxsize=8)
def managed_identity_credential(*, client_id: str | None = None, resource_id: str | None = None,
                                ca_bundle: str | None = None) -> ManagedIdentityCredential:
    """The process-wide credential for one identity, so its token cache is shared by every client."""
    return ManagedIdentityCredential(client_id=client_id, resource_id=resource_id, ca_bundle=ca_bundle)
