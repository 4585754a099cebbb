"""Storage SDK clients for a :class:`StorageConnection`, in either mode.

One place decides between ``from_connection_string`` and service URI + managed identity token,
so the stores, the health check and the local host's queue bindings cannot drift apart.
``options`` go to the SDK client as they are (timeouts, encode policies, ``raw_response_hook``).

Every client is made with ``use_env_settings=False`` unless the caller says otherwise: the SDK's
requests session would otherwise look for proxy variables and ``.netrc`` on every request, a
measurable cost per Table or Queue round trip, for proxies the app does not use.
"""
from __future__ import annotations

from typing import Any

from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueClient, QueueServiceClient

from ..identity import ManagedIdentityCredential, managed_identity_credential
from .connection import StorageConnection


def credential(connection: StorageConnection) -> ManagedIdentityCredential:
    """The managed identity credential of an identity-based connection (shared per identity)."""
    return managed_identity_credential(client_id=connection.client_id, resource_id=connection.resource_id,
                                       ca_bundle=connection.identity_ca_bundle)


def _client_options(connection: StorageConnection, options: dict[str, Any]) -> dict[str, Any]:
    options.setdefault("use_env_settings", False)
    if connection.ca_bundle:
        options.setdefault("connection_verify", connection.ca_bundle)
    return options


def table_service(connection: StorageConnection, **options: Any) -> TableServiceClient:
    """A Table service client."""
    options = _client_options(connection, options)
    if connection.connection_string:
        return TableServiceClient.from_connection_string(connection.connection_string, **options)
    return TableServiceClient(endpoint=connection.service_uri("table"), credential=credential(connection), **options)


def queue_service(connection: StorageConnection, **options: Any) -> QueueServiceClient:
    """A Queue service client."""
    options = _client_options(connection, options)
    if connection.connection_string:
        return QueueServiceClient.from_connection_string(connection.connection_string, **options)
    return QueueServiceClient(account_url=connection.service_uri("queue"), credential=credential(connection),
                              **options)


def queue_client(connection: StorageConnection, queue: str, **options: Any) -> QueueClient:
    """A client for one queue."""
    options = _client_options(connection, options)
    if connection.connection_string:
        return QueueClient.from_connection_string(connection.connection_string, queue, **options)
    return QueueClient(account_url=connection.service_uri("queue"), queue_name=queue,
                       credential=credential(connection), **options)
