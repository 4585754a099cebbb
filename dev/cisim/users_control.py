"""Control API for identities (dev only, ``/_control/...``): sample users and their tokens, CI role
assignments, signing key rotation and the token grant counters.

``PUT /_control/users/{user}`` adds a tenant user (``name``, optional ``app_roles``; no CI role until
``PUT /_control/users/{user}/roles/{instance}``), e.g. a second maker; a reset removes added users.
``POST /_control/users/{user}/token`` stands in for Power Automate signing a maker in: it returns
the signed v2.0 access token Entra ID would issue for the backend. Its optional ``audience``,
``tenant_id`` and ``lifetime_seconds`` (zero or less: already expired) make the mis-addressed and
expired tokens the backend must refuse.
"""
from __future__ import annotations

from werkzeug.wrappers import Response

from .errors import ControlError
from .users import CI_ROLES, User
from .web import Context, Route, json_response

ALLOWED_TOKEN_FIELDS = ("audience", "tenant_id", "lifetime_seconds", "scope")


def _user(ctx: Context, key: str) -> User:
    user = ctx.services.authority.directory.user(key)
    if user is None:
        raise ControlError(404, f"No user '{key}'; sample users: maker, viewer, admin, noaccess.")
    return user


def list_users(ctx: Context) -> Response:
    directory = ctx.services.authority.directory
    return json_response([{"key": u.key, "object_id": u.object_id, "name": u.name, "username": u.username,
                           "app_roles": list(u.app_roles),
                           "ci_roles": {iid: roles[u.object_id] for iid, roles in directory.assignments.items()
                                        if u.object_id in roles}}
                          for u in directory.users.values()])


def add_user(ctx: Context, key: str) -> Response:
    body = ctx.json_body(required=False) or {}
    if not isinstance(body, dict) or set(body) - {"name", "app_roles"}:
        raise ControlError(400, "The body may hold only name and app_roles.")
    roles = body.get("app_roles") or []
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise ControlError(400, "app_roles must be a list of strings.")
    if not key.isidentifier() or len(key) > 64:
        raise ControlError(400, "A user key is a short identifier, e.g. maker2.")
    user = ctx.services.authority.directory.add_user(key, str(body.get("name") or key), tuple(roles))
    return json_response({"key": user.key, "object_id": user.object_id, "name": user.name,
                          "username": user.username, "app_roles": list(user.app_roles)})


def user_token(ctx: Context, key: str) -> Response:
    user = _user(ctx, key)
    body = ctx.json_body(required=False) or {}
    if not isinstance(body, dict) or set(body) - set(ALLOWED_TOKEN_FIELDS):
        raise ControlError(400, f"The body may hold only {', '.join(ALLOWED_TOKEN_FIELDS)}.")
    lifetime = body.get("lifetime_seconds")
    if lifetime is not None and (not isinstance(lifetime, int) or isinstance(lifetime, bool)):
        raise ControlError(400, "lifetime_seconds must be an integer.")
    token, expires_in = ctx.services.authority.user_token(
        ctx.request.host_url, user, audience=body.get("audience"), tenant=body.get("tenant_id"), lifetime=lifetime,
        **({"scope": str(body["scope"])} if "scope" in body else {}))
    return json_response({"token_type": "Bearer", "access_token": token, "expires_in": expires_in,
                          "object_id": user.object_id})


def set_user_role(ctx: Context, key: str, iid: str) -> Response:
    user = _user(ctx, key)
    body = ctx.json_body(required=False) or {}
    role = body.get("role") if isinstance(body, dict) else None
    if role is not None and role not in CI_ROLES:
        raise ControlError(400, f"role must be one of {', '.join(CI_ROLES)} or null.")
    ctx.services.authority.directory.assign(ctx.instance(iid).id, user.object_id, role)
    return json_response({"user": key, "instance_id": iid, "role": role})


def rotate_keys(ctx: Context) -> Response:
    return json_response({"kid": ctx.services.authority.keys.rotate()})


def token_grants(ctx: Context) -> Response:
    return json_response(dict(ctx.services.authority.grants))


ROUTES = [
    Route("/users", ("GET",), "list_users", list_users, "control"),
    Route("/users/<key>", ("PUT",), "add_user", add_user, "control"),
    Route("/users/<key>/token", ("POST",), "user_token", user_token, "control"),
    Route("/users/<key>/roles/<iid>", ("PUT",), "set_user_role", set_user_role, "control"),
    Route("/signing-keys/rotate", ("POST",), "rotate_keys", rotate_keys, "control"),
    Route("/tokens/grants", ("GET",), "token_grants", token_grants, "control"),
]
