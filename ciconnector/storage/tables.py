"""Access to the app's tables on one storage account."""
from __future__ import annotations

import threading

from azure.data.tables import TableClient, TableServiceClient

SUBSCRIPTIONS = "Subscriptions"
WATCH_STATE = "WatchState"
DELIVERIES = "Deliveries"
DEAD_LETTERS = "DeadLetters"


class TableStore:
    """Opens tables by name, creating each one at most once per process."""

    def __init__(self, connection_string: str):
        self._service = TableServiceClient.from_connection_string(connection_string)
        self._tables: dict[str, TableClient] = {}
        self._lock = threading.Lock()

    def table(self, name: str) -> TableClient:
        with self._lock:
            client = self._tables.get(name)
            if client is None:
                client = self._service.create_table_if_not_exists(name)
                self._tables[name] = client
            return client
