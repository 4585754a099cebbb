"""Access to the app's tables on one storage account."""
from __future__ import annotations

import threading
from typing import Any

from azure.data.tables import TableClient

from .clients import table_service
from .connection import StorageConnection

SUBSCRIPTIONS = "Subscriptions"
WATCH_STATE = "WatchState"
DELIVERIES = "Deliveries"
DEAD_LETTERS = "DeadLetters"


class TableStore:
    """Opens tables by name, creating each one at most once per process.

    ``connection`` is a connection string or identity-based (see :mod:`.connection`);
    ``client_options`` go to the SDK client (e.g. ``raw_response_hook`` to count transactions).
    """

    def __init__(self, connection: StorageConnection, **client_options: Any):
        self._service = table_service(connection, **client_options)
        self._tables: dict[str, TableClient] = {}
        self._lock = threading.Lock()

    def table(self, name: str) -> TableClient:
        with self._lock:
            client = self._tables.get(name)
            if client is None:
                client = self._service.create_table_if_not_exists(name)
                self._tables[name] = client
            return client
