"""CI roles enforced on the simulated API, and the API's role endpoints (``/instances/{id}/rbac/...``).

A delegated token (from the on-behalf-of grant, ``idtyp: user``) acts with its user's role on the
instance named in the path: none at all answers the same 404 as an unknown instance (so a user
cannot probe which instances exist), Viewer may read, Contributor may also write (create / update
rows, submit and cancel jobs), Admin may also manage role assignments; a role too low is a 403.
``GET /instances`` lists only instances the user has a role on. App-only tokens (client
credentials, managed identity) keep full access, as the app registration is assumed to hold the
role the README tells admins to grant. The role endpoints follow the 2021 code model
(``Get-all-role-definitions``, ``Get-current-user-role``, ``Get-all-role-assignments``,
``Update-a-role-assignment``, ``Deletes-a-role-assignment``).
"""
from __future__ import annotations

import re
from typing import Any

from werkzeug.wrappers import Request, Response

from .errors import CIError
from .users import CI_ROLES, ROLE_DESCRIPTIONS
from .web import Context, Route, Services, json_response

_RANK = {"Viewer": 1, "Contributor": 2, "Admin": 3}
_INSTANCE_PATH = re.compile(r"^/v1/instances/(?P<iid>[^/]+)(?P<rest>/.*)?$")


def token_claims(services: Services, request: Request) -> dict[str, Any]:
    """The claims of the request's bearer token (empty when it was not issued here)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return services.authority.tokens.claims(token.strip()) if scheme.lower() == "bearer" else {}


def delegated_claims(services: Services, request: Request) -> dict[str, Any] | None:
    """The claims of the request's token when it acts for a user, else None (app-only)."""
    claims = token_claims(services, request)
    return claims if claims.get("idtyp") == "user" else None


def _needed_role(method: str, rest: str) -> str | None:
    """The least role for ``method`` on the instance sub-path ``rest`` (None: any role)."""
    if rest.startswith("/rbac/"):
        if method == "GET" and rest.rstrip("/") in ("/rbac/myrole", "/rbac/roles"):
            return None
        return "Admin"
    return "Viewer" if method in ("GET", "HEAD") else "Contributor"


def authorize(services: Services, request: Request) -> CIError | None:
    """None when the request's user may make it (or it is app-only), else the error CI answers."""
    claims = delegated_claims(services, request)
    match = _INSTANCE_PATH.match(request.path)
    if claims is None or match is None:
        return None
    instance_id = match["iid"]
    role = services.authority.directory.role(instance_id, claims["oid"])
    if role is None:
        return CIError(404, "instanceNotFound", f"Instance '{instance_id}' was not found.")
    needed = _needed_role(request.method, match["rest"] or "")
    if needed is not None and _RANK[role] < _RANK[needed]:
        return CIError(403, "insufficientRole", f"The {role} role does not allow this operation; it needs "
                                                f"{needed}.")
    return None


def visible(ctx: Context, instance_id: str) -> bool:
    """Whether the caller may see the instance in ``GET /instances``."""
    claims = delegated_claims(ctx.services, ctx.request)
    return claims is None or ctx.services.authority.directory.role(instance_id, claims["oid"]) is not None


def _assignment(instance_id: str, principal_id: str, principal_type: str, role: str) -> dict[str, Any]:
    return {"principalId": principal_id, "principalType": principal_type, "roles": [role], "instanceId": instance_id}


def get_roles(ctx: Context, iid: str) -> Response:
    ctx.instance(iid)
    return json_response([{"roleName": r, "description": ROLE_DESCRIPTIONS[r]} for r in CI_ROLES])


def get_my_role(ctx: Context, iid: str) -> Response:
    inst = ctx.instance(iid)
    claims = delegated_claims(ctx.services, ctx.request)
    if claims is None:  # app-only: full access, reported as Admin
        app = token_claims(ctx.services, ctx.request)
        return json_response(_assignment(inst.id, str(app.get("oid") or app.get("appid", "")), "app", "Admin"))
    role = ctx.services.authority.directory.role(inst.id, claims["oid"])
    return json_response(_assignment(inst.id, claims["oid"], "user", str(role)))


def get_assignments(ctx: Context, iid: str) -> Response:
    inst = ctx.instance(iid)
    assigned = ctx.services.authority.directory.instance_assignments(inst.id)
    return json_response([_assignment(inst.id, oid, "user", role) for oid, role in sorted(assigned.items())])


def put_assignment(ctx: Context, iid: str, principal_id: str) -> Response:
    inst = ctx.instance(iid)
    directory = ctx.services.authority.directory
    if directory.by_object_id(principal_id) is None:
        raise CIError(404, "rbacUserNotFound", f"Principal '{principal_id}' was not found in the directory.")
    body = ctx.json_body()
    roles = body.get("roles") if isinstance(body, dict) else None
    if body.get("principalType", "user") != "user":
        raise CIError(400, "rbacUnsupportedPrincipalType", "Only users can be assigned here.")
    if not isinstance(roles, list) or len(roles) != 1 or roles[0] not in CI_ROLES:
        raise CIError(400, "rbacInvalidRole", f"roles must name one of {', '.join(CI_ROLES)}.")
    directory.assign(inst.id, principal_id, roles[0])
    return json_response([_assignment(inst.id, principal_id, "user", roles[0])])


def delete_assignment(ctx: Context, iid: str, principal_id: str) -> Response:
    inst = ctx.instance(iid)
    ctx.services.authority.directory.assign(inst.id, principal_id, None)
    return Response(status=200)


_R = "/instances/<iid>/rbac"
ROUTES = [
    Route(f"{_R}/roles", ("GET",), "Get-all-role-definitions", get_roles),
    Route(f"{_R}/myrole", ("GET",), "Get-current-user-role", get_my_role),
    Route(f"{_R}/assignments", ("GET",), "Get-all-role-assignments", get_assignments),
    Route(f"{_R}/principals/<principal_id>/assignment", ("PUT",), "Update-a-role-assignment", put_assignment),
    Route(f"{_R}/principals/<principal_id>/assignment", ("DELETE",), "Deletes-a-role-assignment",
          delete_assignment),
]
