"""Entra ID-compatible authority (discovery, JWKS, token endpoint) and the CI API's token checks.

Two kinds of token come from here:

- **User tokens for the backend** (:meth:`Authority.user_token`, minted for a sample user through the
  control API, standing in for the token Power Automate gets when a maker signs in): Entra ID v2.0
  access tokens signed RS256 with the current key of ``signing.py``, whose public keys are published
  at ``/{tenant}/discovery/v2.0/keys``.
- **CI API tokens** from the token endpoint: ``client_credentials`` (app-only) and the
  on-behalf-of grant (``urn:ietf:params:oauth:grant-type:jwt-bearer`` with
  ``requested_token_use=on_behalf_of``), which exchanges a user token addressed to the app
  registration for a delegated CI token of that user. These are unsigned JWT-like strings
  (``alg: none``) remembered with their claims and expiry: the simulated API accepts only tokens
  issued here and not yet expired, and enforces the user's CI role when the token is delegated.

The app registration authenticates with its client secret or with a client assertion signed by
one of its registered certificates (``assertion.py``).
"""
from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

import jwt
from werkzeug.wrappers import Request, Response

from .assertion import JWT_BEARER, AssertionRejected, CertificateRegistry, verify
from .signing import SigningKeys
from .users import Directory, User

DEFAULT_SCOPE = "https://api.ci.ai.microsoft.com/.default"
DEFAULT_TOKEN_LIFETIME = 3600
OBO_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
BACKEND_SCOPE = "user_impersonation"
"""The scope the backend's app registration exposes (what Power Automate's connection asks for)."""
POWER_PLATFORM_CLIENT_ID = "fe053c5f-3692-4f14-aef2-ee34fc081cae"
"""``azp`` of sample user tokens: the client that signed the user in (a made-up id for the connector)."""
RESERVED_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})
"""OIDC scopes MSAL adds to every user-flow token request; they never name a resource."""
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
        self._tokens: dict[str, tuple[float, dict[str, Any]]] = {}
        self.lifetime = lifetime

    def issue(self, claims: dict[str, Any]) -> tuple[str, int]:
        """A new token carrying ``claims`` plus iat/nbf/exp; returns (token, expires_in)."""
        issued, lifetime = time.time(), self.lifetime
        body = {**claims, "iat": int(issued), "nbf": int(issued), "exp": int(issued) + lifetime,
                "uti": secrets.token_urlsafe(16)}
        token = f"{_b64({'typ': 'JWT', 'alg': 'none'})}.{_b64(body)}.{secrets.token_urlsafe(16)}"
        with self._lock:
            self._tokens = {t: entry for t, entry in self._tokens.items() if entry[0] > issued - _EXPIRED_MEMORY}
            self._tokens[token] = (issued + lifetime, body)
        return token, lifetime

    def check(self, token: str) -> str | None:
        """None when valid, else why not ("unknown" or "expired")."""
        with self._lock:
            entry = self._tokens.get(token)
        if entry is None:
            return "unknown"
        return "expired" if entry[0] <= time.time() else None

    def claims(self, token: str) -> dict[str, Any]:
        """The claims of an issued token (empty for one not issued here)."""
        with self._lock:
            entry = self._tokens.get(token)
        return dict(entry[1]) if entry else {}

    def expire_all(self) -> int:
        """Expire every issued token now; returns how many were live."""
        now = time.time()
        with self._lock:
            live = sum(1 for exp, _ in self._tokens.values() if exp > now)
            self._tokens = {t: (min(exp, now), claims) for t, (exp, claims) in self._tokens.items()}
        return live


def entra_error(status: int, error: str, code: int, description: str) -> Response:
    """An Entra ID-style OAuth error response (AADSTS code in the description)."""
    now = datetime.now(timezone.utc)
    body = {"error": error, "error_description": f"AADSTS{code}: {description} Trace ID: {uuid.uuid4()} "
                                                 f"Correlation ID: {uuid.uuid4()} Timestamp: {now:%Y-%m-%d %H:%M:%SZ}",
            "error_codes": [code], "timestamp": f"{now:%Y-%m-%d %H:%M:%SZ}", "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()), "error_uri": f"https://login.microsoftonline.com/error?code={code}"}
    return Response(json.dumps(body), status=status, content_type="application/json; charset=utf-8")


def _token_response(token: str, expires_in: int, **extra: str) -> Response:
    body = {"token_type": "Bearer", **extra, "expires_in": expires_in, "ext_expires_in": expires_in,
            "access_token": token}
    return Response(json.dumps(body), content_type="application/json; charset=utf-8",
                    headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"})


class Authority:
    """Serves ``/{tenant}/...`` like login.microsoftonline.com and validates API credentials."""

    def __init__(self, credentials: Credentials, scopes: Iterable[str], tokens: TokenStore, *,
                 certificates: CertificateRegistry | None = None) -> None:
        self.credentials = credentials
        self.scopes = tuple(scopes)
        self.tokens = tokens
        self.certificates = certificates or CertificateRegistry()
        self.keys = SigningKeys()
        self.directory = Directory()
        self.grants: Counter[str] = Counter()
        """Tokens issued per grant (``client_credentials``, ``on_behalf_of``): what reuse tests count."""

    def reset(self) -> None:
        """Default token lifetime, the sample users' roles, grant counters zeroed (keys are kept)."""
        self.tokens.lifetime = DEFAULT_TOKEN_LIFETIME
        self.directory.reset()
        self.grants.clear()

    def issuer(self, origin: str, tenant: str | None = None) -> str:
        """The v2.0 issuer of ``tenant`` (default ours) at ``origin``, as Entra writes it."""
        return f"{origin.rstrip('/')}/{tenant or self.credentials.tenant_id}/v2.0"

    def audiences(self) -> tuple[str, ...]:
        """Audiences the app registration answers to: its client id and its application ID URI."""
        client_id = self.credentials.client_id
        return client_id, f"api://{client_id}"

    def user_token(self, origin: str, user: User, *, audience: str | None = None, tenant: str | None = None,
                   lifetime: int | None = None, scope: str = BACKEND_SCOPE) -> tuple[str, int]:
        """A signed v2.0 access token of ``user`` for the backend (``aud`` = its client id by default).

        ``audience``, ``tenant`` and a ``lifetime`` of zero or less make the mis-addressed and
        expired tokens the backend must refuse (the token is signed all the same).
        """
        issued = int(time.time())
        seconds = self.tokens.lifetime if lifetime is None else lifetime
        tid = tenant or self.credentials.tenant_id
        claims: dict[str, Any] = {
            "aud": audience or self.credentials.client_id, "iss": self.issuer(origin, tid),
            "iat": issued, "nbf": min(issued, issued + seconds - 1), "exp": issued + seconds,
            "azp": POWER_PLATFORM_CLIENT_ID, "azpacr": "0", "name": user.name, "oid": user.object_id,
            "preferred_username": user.username, "scp": scope, "sub": secrets.token_urlsafe(32), "tid": tid,
            "uti": secrets.token_urlsafe(16), "ver": "2.0"}
        if user.app_roles:
            claims["roles"] = list(user.app_roles)
        return self.keys.sign(claims), seconds

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
            "grant_types_supported": ["client_credentials", OBO_GRANT],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": self.issuer(request.host_url, tenant),
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
        """``GET /{tenant}/discovery/v2.0/keys``: the current and the previous signing key."""
        if not self._tenant_ok(tenant):
            return self._tenant_error(tenant)
        return Response(json.dumps(self.keys.jwks()), content_type="application/json; charset=utf-8")

    def token(self, request: Request, tenant: str) -> Response:
        """``POST /{tenant}/oauth2/v2.0/token``: ``client_credentials`` or the on-behalf-of grant."""
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
        if grant not in ("client_credentials", OBO_GRANT):
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
        if grant == OBO_GRANT:
            return self._on_behalf_of(request, tenant, client_id, scope)
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
            "aud": requested[0][: -len("/.default")], "iss": self.issuer(request.host_url, tenant),
            "tid": self.credentials.tenant_id, "appid": client_id, "azp": client_id, "roles": ["api.access"],
            "idtyp": "app", "ver": "2.0"})
        self.grants["client_credentials"] += 1
        return _token_response(token, expires_in)

    def _on_behalf_of(self, request: Request, tenant: str, client_id: str, scope: str) -> Response:
        """The OBO grant: a user token addressed to ``client_id`` becomes that user's CI token."""
        form = request.form
        if form.get("requested_token_use") != "on_behalf_of":
            return entra_error(400, "invalid_request", 900144, "The request body must contain the following "
                                                                "parameter: 'requested_token_use'.")
        assertion = form.get("assertion", "")
        if not assertion:
            return entra_error(400, "invalid_request", 900144, "The request body must contain the following "
                                                                "parameter: 'assertion'.")
        claims, problem = self._user_assertion(request, assertion, tenant)
        if problem is not None:
            return problem
        resources = [s for s in scope.split() if s not in RESERVED_SCOPES]
        if len(resources) != 1 or not any(resources[0] in (ci, ci.replace("/.default", f"/{BACKEND_SCOPE}"))
                                          for ci in self.scopes):
            return entra_error(400, "invalid_scope", 70011, f"The provided value for the input parameter "
                                                             f"'scope' is not valid. The scope {scope} is not valid.")
        resource = resources[0].rsplit("/", 1)[0]
        token, expires_in = self.tokens.issue({
            "aud": resource, "iss": self.issuer(request.host_url, tenant), "tid": claims["tid"],
            "oid": claims["oid"], "sub": claims["sub"], "name": claims.get("name", ""),
            "preferred_username": claims.get("preferred_username", ""), "scp": BACKEND_SCOPE, "azp": client_id,
            "idtyp": "user", "ver": "2.0"})
        self.grants["on_behalf_of"] += 1
        return _token_response(token, expires_in, scope=f"{resource}/{BACKEND_SCOPE}")

    def _user_assertion(self, request: Request, assertion: str, tenant: str) -> tuple[dict[str, Any],
                                                                                       Response | None]:
        """The claims of a user token fit for OBO (signed here, for this app, live), or why not."""
        try:
            header = jwt.get_unverified_header(assertion)
            key = self.keys.public_key(str(header.get("kid", "")))
            if key is None or header.get("alg") != "RS256":
                raise jwt.InvalidSignatureError("unknown key")
            claims = jwt.decode(assertion, key, algorithms=["RS256"], audience=list(self.audiences()),
                                issuer=self.issuer(request.host_url, tenant),
                                options={"require": ["exp", "nbf", "aud", "iss", "oid", "tid", "scp"]})
        except jwt.ExpiredSignatureError:
            return {}, entra_error(400, "invalid_grant", 500133, "Assertion is not within its valid time range.")
        except (jwt.InvalidAudienceError, jwt.InvalidIssuerError):
            return {}, entra_error(400, "invalid_grant", 500131, "Assertion audience does not match the Client "
                                                                  "app presenting the assertion.")
        except jwt.PyJWTError:
            return {}, entra_error(400, "invalid_grant", 50013, "Assertion failed signature validation.")
        return claims, None

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
