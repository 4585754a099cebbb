"""The simulated directory: sample users, their app roles on the backend, and CI roles per instance.

Customer Insights - Data has three roles (Admin, Contributor, Viewer, see "Assign user
permissions" in Microsoft's docs), assigned per instance to users, groups or apps. Here users are
assigned per instance; the sample instance has a maker (Contributor), a viewer (Viewer) and an admin
(Admin, also holding the backend's admin app role); ``noaccess`` is a tenant user with no role.
"""
from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field

from .sample import SAMPLE_INSTANCE_ID

CI_ROLES = ("Admin", "Contributor", "Viewer")
ROLE_DESCRIPTIONS = {
    "Admin": "Can manage every aspect of the instance, including permissions.",
    "Contributor": "Can configure data sources, segments and measures, and run refreshes.",
    "Viewer": "Can view the instance's data and configuration.",
}
BACKEND_ADMIN_ROLE = "Connector.Admin"
"""App role of the backend's app registration that admin endpoints require in Entra mode."""


@dataclass(frozen=True)
class User:
    """A directory user (ids are stable, so tests and ``make run`` can name them)."""

    key: str
    object_id: str
    name: str
    username: str
    app_roles: tuple[str, ...] = ()


def _oid(key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://cisim.invalid/users/{key}"))


SAMPLE_USERS = (
    User("maker", _oid("maker"), "Megan Maker", "megan@contoso.example"),
    User("viewer", _oid("viewer"), "Victor Viewer", "victor@contoso.example"),
    User("admin", _oid("admin"), "Ada Admin", "ada@contoso.example", (BACKEND_ADMIN_ROLE,)),
    User("noaccess", _oid("noaccess"), "Nora Noaccess", "nora@contoso.example"),
)
SAMPLE_ROLES = {"maker": "Contributor", "viewer": "Viewer", "admin": "Admin"}
"""Roles on the sample instance."""


@dataclass
class Directory:
    """Users and their CI role assignments (``{instance id: {object id: role}}``)."""

    users: dict[str, User] = field(default_factory=lambda: {u.key: u for u in SAMPLE_USERS})
    assignments: dict[str, dict[str, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Back to the sample users (added ones removed) and their roles on the sample instance."""
        with self._lock:
            self.users = {u.key: u for u in SAMPLE_USERS}
            self.assignments = {SAMPLE_INSTANCE_ID: {self.users[k].object_id: role for k, role in SAMPLE_ROLES.items()}}

    def add_user(self, key: str, name: str, app_roles: tuple[str, ...] = ()) -> User:
        """Add (or replace) a tenant user, with a stable object id derived from ``key``; no CI role yet."""
        user = User(key, _oid(key), name, f"{key}@contoso.example", app_roles)
        with self._lock:
            self.users[key] = user
        return user

    def user(self, key: str) -> User | None:
        return self.users.get(key)

    def by_object_id(self, object_id: str) -> User | None:
        return next((u for u in self.users.values() if u.object_id == object_id), None)

    def role(self, instance_id: str, object_id: str) -> str | None:
        """The user's CI role on the instance, or None."""
        with self._lock:
            return self.assignments.get(instance_id.strip().lower(), {}).get(object_id)

    def assign(self, instance_id: str, object_id: str, role: str | None) -> None:
        """Set (or with None remove) a user's role on an instance."""
        with self._lock:
            roles = self.assignments.setdefault(instance_id.strip().lower(), {})
            if role is None:
                roles.pop(object_id, None)
            else:
                roles[object_id] = role

    def instance_assignments(self, instance_id: str) -> dict[str, str]:
        """``{object id: role}`` on one instance."""
        with self._lock:
            return dict(self.assignments.get(instance_id.strip().lower(), {}))
