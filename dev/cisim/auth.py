"""Entra ID-compatible authority (discovery + client-credentials token endpoint) and token checks.

Tokens are unsigned JWT-like strings (``alg: none``) remembered with their expiry; the API
accepts only tokens issued here and not yet expired. The app registration authenticates with its
client secret or with a client assertion signed by one of its registered certificates
(``assertion.py``).
"""
from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

from werkzeug.wrappers import Request, Response

from .assertion import JWT_BEARER, AssertionRejected, CertificateRegistry, verify

DEFAULT_SCOPE = "https://api.ci.ai.microsoft.com/.default"
DEFAULT_TOKEN_LIFETIME = 3600
_EXPIRED_MEMORY = 3600  # expired tokens are remembered this long so a 401 can say "expired"


@dataclass(frozen=True)
class Credentials:
    """The app registration and APIM key the simulator accepts."""

    tenant_id: str
    client_id: str
    client_secret: str
    subscription_key: str


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()


class TokenStore:
    """Issued access tokens and their expiry (epoch seconds)."""

    def __init__(self, lifetime: int = DEFAULT_TOKEN_LIFETIME) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}
        self.lifetime = lifetime

    def issue(self, claims: dict[str, Any]) -> tuple[str, int]:
        """A new token carrying ``claims`` plus iat/nbf/exp; returns (token, expires_in)."""
        issued, lifetime = time.time(), self.lifetime
        body = {**claims, "iat": int(issued), "nbf": int(issued), "exp": int(issued) + lifetime,
                "uti": secrets.token_urlsafe(16)}
        token = f"{_b64({'typ': 'JWT', 'alg': 'none'})}.{_b64(body)}.{secrets.token_urlsafe(16)}"
        with self._lock:
            self._tokens = {t: exp for t, exp in self._tokens.items() if exp > issued - _EXPIRED_MEMORY}
            self._tokens[token] = issued + lifetime
        return token, lifetime

    def check(self, token: str) -> str | None:
        """None when valid, else why not ("unknown" or "expired")."""
        with self._lock:
            expiry = self._tokens.get(token)
        if expiry is None:
            return "unknown"
        return "expired" if expiry <= time.time() else None

    def expire_all(self) -> int:
        """Expire every issued token now; returns how many were live."""
        now = time.time()
        with self._lock:
            live = sum(1 for exp in self._tokens.values() if exp > now)
            self._tokens = {t: min(exp, now) for t, exp in self._tokens.items()}
        return live


def entra_error(status: int, error: str, code: int, description: str) -> Response:
    """An Entra ID-style OAuth error response (AADSTS code in the description)."""
    now = datetime.now(timezone.utc)
    body = {"error": error, "error_description": f"AADSTS{code}: {description} Trace ID: {uuid.uuid4()} "
                                                 f"Correlation ID: {uuid.uuid4()} Timestamp: {now:%Y-%m-%d %H:%M:%SZ}",
            "error_codes": [code], "timestamp": f"{now:%Y-%m-%d %H:%M:%SZ}", "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()), "error_uri": f"https://login.microsoftonline.com/error?code={code}"}
    return Response(json.dumps(body), status=status, content_type="application/json; charset=utf-8")


class Authority:
    """Serves ``/{tenant}/...`` like login.microsoftonline.com and validates API credentials."""

    def __init__(self, credentials: Credentials, scopes: Iterable[str], tokens: TokenStore, *,
                 certificates: CertificateRegistry | None = None) -> None:
        self.credentials = credentials
        self.scopes = tuple(scopes)
        self.tokens = tokens
        self.certificates = certificates or CertificateRegistry()

    def _tenant_ok(self, tenant: str) -> bool:
        return tenant.lower() == self.credentials.tenant_id.lower()

    def _tenant_error(self, tenant: str) -> Response:
        return entra_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")

    def openid_configuration(self, request: Request, tenant: str) -> Response:
        """``GET /{tenant}/v2.0/.well-known/openid-configuration``."""
        if not self._tenant_ok(tenant):
            return self._tenant_error(tenant)
        root = f"{request.host_url.rstrip('/')}/{tenant}"
        body = {
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{root}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{root}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{root}/openid/userinfo",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "tid", "ver", "oid"],
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
        }
        return Response(json.dumps(body), content_type="application/json; charset=utf-8")

    def jwks(self, request: Request, tenant: str) -> Response:
        """``GET /{tenant}/discovery/v2.0/keys`` (empty: tokens are unsigned)."""
        if not self._tenant_ok(tenant):
            return self._tenant_error(tenant)
        return Response(json.dumps({"keys": []}), content_type="application/json; charset=utf-8")

    def token(self, request: Request, tenant: str) -> Response:
        """``POST /{tenant}/oauth2/v2.0/token`` for ``grant_type=client_credentials``."""
        if not self._tenant_ok(tenant):
            return self._tenant_error(tenant)
        form = request.form
        grant = form.get("grant_type", "")
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if request.authorization and request.authorization.type == "basic":
            client_id = request.authorization.username or client_id
            secret = request.authorization.password or secret
        scope = form.get("scope", "")
        if not grant:
            return entra_error(400, "invalid_request", 900144, "The request body must contain the following "
                                                                "parameter: 'grant_type'.")
        if grant != "client_credentials":
            return entra_error(400, "unsupported_grant_type", 70003,
                                f"The app requested an unsupported grant type '{grant}'.")
        if not client_id:
            return entra_error(400, "invalid_request", 900144, "The request body must contain the following "
                                                                "parameter: 'client_id'.")
        if client_id != self.credentials.client_id:
            return entra_error(401, "invalid_client", 700016, f"Application with identifier '{client_id}' was "
                                                               "not found in the directory.")
        refused = self._client_authentication(request, tenant, client_id, secret)
        if refused is not None:
            return refused
        requested = scope.split()
        if len(requested) != 1 or not requested[0].endswith("/.default"):
            return entra_error(400, "invalid_scope", 1002012, f"The provided value for scope {scope} is not "
                                                               "valid. Client credential flows must have a scope "
                                                               "value with /.default suffixed to the resource "
                                                               "identifier (application ID URI).")
        if requested[0] not in self.scopes:
            resource = requested[0][: -len("/.default")]
            return entra_error(400, "invalid_resource", 500011, f"The resource principal named {resource} was "
                                                                 f"not found in the tenant named {tenant}.")
        token, expires_in = self.tokens.issue({
            "aud": requested[0][: -len("/.default")], "iss": f"{request.host_url.rstrip('/')}/{tenant}/v2.0",
            "tid": self.credentials.tenant_id, "appid": client_id, "azp": client_id, "roles": ["api.access"],
            "ver": "2.0"})
        body = {"token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in,
                "access_token": token}
        return Response(json.dumps(body), content_type="application/json; charset=utf-8",
                        headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"})

    def _client_authentication(self, request: Request, tenant: str, client_id: str, secret: str) -> Response | None:
        """None when the client secret or the client assertion proves ``client_id``, else the refusal."""
        form = request.form
        assertion, assertion_type = form.get("client_assertion", ""), form.get("client_assertion_type", "")
        if assertion or assertion_type:
            if secret:
                return entra_error(401, "invalid_client", 700025, "Only one of 'client_secret' and "
                                                                  "'client_assertion' may be presented.")
            if assertion_type != JWT_BEARER:
                return entra_error(400, "invalid_request", 50027, f"client_assertion_type must be '{JWT_BEARER}'.")
            try:
                verify(assertion, client_id=client_id, registry=self.certificates,
                       token_endpoint=f"{request.host_url.rstrip('/')}/{tenant}/oauth2/v2.0/token")
            except AssertionRejected as rejected:
                return entra_error(401, "invalid_client", rejected.code, rejected.description)
            return None
        if not secret:
            return entra_error(401, "invalid_client", 7000216, "'client_assertion', 'client_secret' or 'request' "
                                                               "is required for the 'client_credentials' grant type.")
        if not secrets.compare_digest(secret, self.credentials.client_secret):
            return entra_error(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret "
                                                                "being sent in the request is the client secret "
                                                                "value, not the client secret ID.")
        return None

    def check_api_request(self, request: Request) -> Response | None:
        """None if the request carries a valid bearer token and subscription key, else an empty 401."""
        key = request.headers.get("Ocp-Apim-Subscription-Key", "")
        auth = request.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if not key or not secrets.compare_digest(key, self.credentials.subscription_key):
            reason = "missing or invalid Ocp-Apim-Subscription-Key"
        elif scheme.lower() != "bearer" or not token.strip():
            reason = "missing bearer token"
        else:
            problem = self.tokens.check(token.strip())
            if problem is None:
                return None
            reason = "the token is expired" if problem == "expired" else "the token is not valid"
        authority = f"{request.host_url.rstrip('/')}/{self.credentials.tenant_id}"
        challenge = f'Bearer authorization_uri="{authority}", error="invalid_token", error_description="{reason}"'
        return Response(b"", status=401, headers={"WWW-Authenticate": challenge})
