"""Who may call: the one decision every HTTP operation goes through (``actions/responses.py``).

Function-key mode (the default) decides nothing here: the host already checked the key and the
caller is the app. Entra mode requires ``Authorization: Bearer <token>`` validated by
:class:`~ciconnector.auth.tokens.TokenValidator`; admin operations also need the admin app role.
"""
from __future__ import annotations

from enum import Enum
from typing import Mapping

from ..errors import Forbidden, Unauthenticated
from ..settings import AuthSettings
from .principal import Principal
from .tokens import TokenValidator


class Access(Enum):
    """Who an HTTP function is for."""

    ANYONE = "anyone"
    """Anonymous or host-checked (health, the connector definition, the console's static files)."""
    USER = "user"
    """A connector operation: in Entra mode, a signed-in user."""
    ADMIN = "admin"
    """An admin endpoint: the master key, or in Entra mode a user with the admin app role."""


def authorize(headers: Mapping[str, str], access: Access, settings: AuthSettings,
              validator: TokenValidator) -> Principal | None:
    """The principal the request acts for (None when the app acts for itself), or a 401/403."""
    if access is Access.ANYONE or not settings.entra:
        return None
    scheme, _, token = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("MissingToken", "Sign in: the request needs an Entra ID access token.")
    principal = validator.validate(token.strip())
    if access is Access.ADMIN and not is_admin(principal, settings):
        raise Forbidden("AdminRoleRequired", f"This endpoint needs the '{settings.admin_role}' app role.")
    return principal


def is_admin(principal: Principal | None, settings: AuthSettings) -> bool:
    """Whether the caller holds the admin app role (Entra mode). None, the app itself acting in
    function-key mode, is not an admin here: callers decide what function-key mode allows."""
    return principal is not None and settings.admin_role in principal.roles
