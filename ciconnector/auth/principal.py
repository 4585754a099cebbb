"""The person a request acts for (Entra mode)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Principal:
    """A user authenticated by a validated access token.

    Attributes:
        tenant_id: ``tid``.
        object_id: ``oid``, the user's stable id in the tenant.
        name: ``name`` (display name), may be empty.
        username: ``preferred_username``, may be empty; for display only, never for decisions.
        scopes: ``scp``, the delegated scopes.
        roles: ``roles``, the backend's app roles assigned to the user.
        token: the access token itself, kept only to exchange it on behalf of the user.
    """

    tenant_id: str
    object_id: str
    name: str = ""
    username: str = ""
    scopes: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    token: str = field(default="", repr=False, compare=False)

    @property
    def key(self) -> str:
        """``<tid>/<oid>``: identifies the user across tokens (per-user caches, ownership)."""
        return f"{self.tenant_id}/{self.object_id}"
