"""Which storage account a connection name points at, and how to authenticate: one resolution
shared by the app's stores, the health check and the local host's queue bindings.

Azure Functions reads a storage connection named ``N`` (``AzureWebJobsStorage``, or a binding's
``connection``) like this (learn.microsoft.com, "Connecting to host storage with an identity" and
"Common properties for identity-based connections"):

* ``N`` holding a value is a connection string (shared key or SAS): used as is.
* Otherwise the settings under ``N__`` describe an identity-based connection: the service URIs
  ``N__tableServiceUri``, ``N__queueServiceUri``, ``N__blobServiceUri`` (``N__serviceUri`` is the
  queue binding's alias of ``N__queueServiceUri``), or ``N__accountName`` from which the global
  Azure endpoints ``https://<account>.<service>.core.windows.net`` are inferred (an explicit
  service URI wins). Tokens come from the app's managed identity: ``N__credential`` is
  ``managedidentity`` (or unset, as in templates that set only ``N__accountName``), system-assigned
  unless ``N__clientId`` or ``N__managedIdentityResourceId`` names a user-assigned identity.
* For a binding, the host also looks under ``AzureWebJobsN`` when nothing is under ``N``.

Setting names are matched case-insensitively, like the host's configuration. This module only
reads settings (no SDK import), so ``ciconnector.settings`` can use it; SDK clients are built by
:mod:`ciconnector.storage.clients`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from ..settings import SettingsError

DEFAULT_CONNECTION = "AzureWebJobsStorage"
CONNECTION_STRING, IDENTITY = "connectionString", "identity"
SERVICES = ("table", "queue", "blob")
MANAGED_IDENTITY = "managedidentity"
STORAGE_CA_BUNDLE = "STORAGE_CA_BUNDLE"
"""Dev-only setting: CA bundle that verifies the storage endpoints (Azurite over HTTPS locally)."""
IDENTITY_CA_BUNDLE = "IDENTITY_CA_BUNDLE"
"""Dev-only setting: CA bundle that verifies ``IDENTITY_ENDPOINT`` (the simulator's, locally)."""


class StorageConnectionError(SettingsError):
    """A storage connection's settings are missing, contradictory or unsupported."""


class StorageNotConfiguredError(StorageConnectionError):
    """No setting at all describes the storage connection."""


def not_configured_message(name: str) -> str:
    """What to set when nothing describes connection ``name``."""
    return (f"Storage connection '{name}' is not configured: set {name} to a connection string, or "
            f"{name}__accountName (or {name}__tableServiceUri and {name}__queueServiceUri) for an "
            "identity-based connection")


@dataclass(frozen=True)
class StorageConnection:
    """A resolved storage connection: a connection string, or service URIs plus a managed identity.

    Hashable, so the local host can key its queue clients by it. ``connection_string`` holds the
    account key and never appears in ``repr`` or :meth:`describe`.
    """

    name: str
    connection_string: str | None = field(default=None, repr=False)
    table_uri: str | None = None
    queue_uri: str | None = None
    blob_uri: str | None = None
    client_id: str | None = None
    resource_id: str | None = None
    ca_bundle: str | None = None
    identity_ca_bundle: str | None = None

    @classmethod
    def from_connection_string(cls, connection_string: str, *, name: str = DEFAULT_CONNECTION,
                               ca_bundle: str | None = None) -> "StorageConnection":
        """A connection-string connection (tests and tools that hold a string already)."""
        if not connection_string.strip():
            raise StorageNotConfiguredError(not_configured_message(name))
        return cls(name, connection_string=connection_string.strip(), ca_bundle=ca_bundle)

    @property
    def mode(self) -> str:
        """``connectionString`` or ``identity``."""
        return CONNECTION_STRING if self.connection_string else IDENTITY

    @property
    def identity(self) -> str | None:
        """``systemAssigned`` or ``userAssigned`` in identity mode, else None."""
        if self.mode != IDENTITY:
            return None
        return "userAssigned" if self.client_id or self.resource_id else "systemAssigned"

    def service_uri(self, service: str) -> str:
        """The URI of ``service`` (``table``, ``queue`` or ``blob``) in identity mode."""
        uri = {"table": self.table_uri, "queue": self.queue_uri, "blob": self.blob_uri}[service]
        if not uri:
            raise StorageConnectionError(
                f"Storage connection '{self.name}' has no {service} endpoint: set "
                f"{self.name}__{service}ServiceUri or {self.name}__accountName")
        return uri

    def describe(self) -> dict[str, str]:
        """Mode, connection name, endpoints and identity kind: nothing secret (for /api/health)."""
        info = {"mode": self.mode, "connection": self.name}
        if self.mode == IDENTITY:
            info["identity"] = self.identity or ""
            info.update({f"{s}Endpoint": u for s, u in
                         (("table", self.table_uri), ("queue", self.queue_uri), ("blob", self.blob_uri)) if u})
        return info


def resolve(name: str = DEFAULT_CONNECTION, *, environ: Mapping[str, str],
            binding: bool = False) -> StorageConnection:
    """The connection called ``name`` in ``environ``; raises :class:`StorageConnectionError`.

    With ``binding`` the host's fallback to ``AzureWebJobs<name>`` applies (binding ``connection``
    values may omit that prefix).
    """
    settings = _CaseInsensitive(environ)
    candidates = (name, f"AzureWebJobs{name}") if binding and name != DEFAULT_CONNECTION else (name,)
    for candidate in candidates:
        value = settings.get(candidate)
        if value:
            return StorageConnection.from_connection_string(value, name=candidate,
                                                            ca_bundle=settings.get(STORAGE_CA_BUNDLE))
        if settings.has_section(candidate):
            return _identity_connection(candidate, settings)
    raise StorageNotConfiguredError(not_configured_message(name))


def _identity_connection(name: str, settings: "_CaseInsensitive") -> StorageConnection:
    def setting(key: str) -> str | None:
        return settings.get(f"{name}__{key}")

    credential = (setting("credential") or MANAGED_IDENTITY).lower()
    if credential != MANAGED_IDENTITY:
        raise StorageConnectionError(
            f"{name}__credential is '{credential}': this app supports only 'managedidentity' "
            "(or leaving it unset); use a connection string for anything else")
    if setting("clientSecret") or setting("certificate"):
        raise StorageConnectionError(
            f"{name}__clientSecret (a local service principal) is not supported by this app: use a "
            f"connection string locally, or {name}__credential=managedidentity in Azure")
    client_id, resource_id = setting("clientId"), setting("managedIdentityResourceId")
    if client_id and resource_id:
        raise StorageConnectionError(
            f"Set {name}__clientId or {name}__managedIdentityResourceId, not both")
    account = setting("accountName")
    uris = {}
    for service in SERVICES:
        explicit = setting(f"{service}ServiceUri") or (setting("serviceUri") if service == "queue" else None)
        uri = explicit or (f"https://{account}.{service}.core.windows.net" if account else None)
        if uri and not uri.lower().startswith("https://"):
            raise StorageConnectionError(f"{name}__{service}ServiceUri must be an https:// URI, got {uri!r}")
        uris[service] = uri.rstrip("/") if uri else None
    if not (uris["table"] or uris["queue"] or uris["blob"]):
        raise StorageNotConfiguredError(not_configured_message(name))
    return StorageConnection(name, table_uri=uris["table"], queue_uri=uris["queue"], blob_uri=uris["blob"],
                             client_id=client_id, resource_id=resource_id,
                             ca_bundle=settings.get(STORAGE_CA_BUNDLE),
                             identity_ca_bundle=settings.get(IDENTITY_CA_BUNDLE))


class _CaseInsensitive:
    """Read-only, case-insensitive view of settings; blank values count as unset."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._values = {key.lower(): value.strip() for key, value in environ.items() if value and value.strip()}

    def get(self, key: str) -> str | None:
        return self._values.get(key.lower())

    def has_section(self, name: str) -> bool:
        prefix = name.lower() + "__"
        return any(key.startswith(prefix) for key in self._values)
