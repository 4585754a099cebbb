"""The App Service / Functions managed identity endpoint (``IDENTITY_ENDPOINT``), dev only.

MSAL's ``ManagedIdentityClient`` calls it when ``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER`` are
set: ``GET <endpoint>?api-version=2019-08-01&resource=<resource>[&client_id=|mi_res_id=|object_id=]``
with header ``X-IDENTITY-HEADER: <IDENTITY_HEADER>``, answered with JSON ``access_token``,
``expires_on`` (epoch seconds, a string as App Service sends it), ``resource``, ``token_type``,
``client_id``. Errors are ``{"statusCode", "message"}`` JSON, which MSAL turns into an error result.

Tokens are JWT-shaped (``alg: none``), with the resource as ``aud`` and a v1 Entra issuer
(``https://sts.windows.net/<tenant>/``): what Azurite's ``--oauth basic`` checks. Tokens for a CI
API resource go through the authority's token store, so the simulated CI API accepts them exactly
like client-credentials tokens; storage tokens are not stored (the CI API must refuse them).
"""
from __future__ import annotations

import base64
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Response

from .auth import Authority

API_VERSION = "2019-08-01"
PATH = "/msi/token"
STORAGE_RESOURCES = re.compile(
    r"^(https://storage\.azure\.com|https://[a-z0-9]{3,24}\.(blob|queue|table)\.core\.windows\.net)/?$")
SYSTEM_ASSIGNED_ID = "5a0c3f6e-0b1d-4c2e-8f3a-7d6e5c4b3a21"
"""Client id (and object id) of the simulated system-assigned identity."""
USER_ASSIGNED_ID = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
"""Client id of the one simulated user-assigned identity."""
USER_ASSIGNED_RESOURCE_ID = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/dev/providers/"
                             "Microsoft.ManagedIdentity/userAssignedIdentities/ci-connector")


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()


def _error(status: int, message: str) -> Response:
    body = {"statusCode": status, "message": message, "correlationId": str(uuid.uuid4())}
    return Response(json.dumps(body), status=status, content_type="application/json; charset=utf-8")


@dataclass
class ManagedIdentityEndpoint:
    """Issues managed identity tokens to callers that present ``identity_header``."""

    authority: Authority
    identity_header: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)

    def _identity(self, args: Any) -> str | None:
        """The client id of the identity asked for (system-assigned when none); None if unknown."""
        client_id, resource_id, object_id = args.get("client_id"), args.get("mi_res_id"), args.get("object_id")
        if client_id:
            return USER_ASSIGNED_ID if client_id.lower() == USER_ASSIGNED_ID else None
        if resource_id:
            return USER_ASSIGNED_ID if resource_id.lower() == USER_ASSIGNED_RESOURCE_ID.lower() else None
        if object_id:
            return USER_ASSIGNED_ID if object_id.lower() == USER_ASSIGNED_ID else None
        return SYSTEM_ASSIGNED_ID

    def _ci_resources(self) -> set[str]:
        return {scope[: -len("/.default")] for scope in self.authority.scopes if scope.endswith("/.default")}

    def token(self, request: Any) -> Response:
        """``GET /msi/token``."""
        header = request.headers.get("X-IDENTITY-HEADER", "")
        if not header or not secrets.compare_digest(header, self.identity_header):
            return _error(401, "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.")
        if request.args.get("api-version") != API_VERSION:
            return _error(400, f"api-version must be {API_VERSION}.")
        resource = request.args.get("resource", "").strip()
        if not resource:
            return _error(400, "The 'resource' query parameter is required.")
        client_id = self._identity(request.args)
        if client_id is None:
            return _error(400, "No User Assigned or Delegated Managed Identity found for specified ClientId/"
                               "ResourceId/PrincipalId.")
        tenant = self.authority.credentials.tenant_id
        claims = {"aud": resource, "iss": f"https://sts.windows.net/{tenant}/", "tid": tenant,
                  "appid": client_id, "oid": client_id, "sub": client_id, "idtyp": "app", "ver": "1.0"}
        if resource.rstrip("/") in self._ci_resources():
            token, lifetime = self.authority.tokens.issue({**claims, "roles": ["api.access"]})
        elif STORAGE_RESOURCES.match(resource):
            now, lifetime = int(time.time()), self.authority.tokens.lifetime
            body = {**claims, "iat": now, "nbf": now, "exp": now + lifetime, "uti": secrets.token_urlsafe(16)}
            token = f"{_b64({'typ': 'JWT', 'alg': 'none'})}.{_b64(body)}.{secrets.token_urlsafe(16)}"
        else:
            return _error(400, f"AADSTS500011: The resource principal named {resource} was not found in the "
                               f"tenant named {tenant}.")
        body = {"access_token": token, "expires_on": str(int(time.time()) + lifetime), "resource": resource,
                "token_type": "Bearer", "client_id": client_id}
        return Response(json.dumps(body), content_type="application/json; charset=utf-8",
                        headers={"Cache-Control": "no-store"})
