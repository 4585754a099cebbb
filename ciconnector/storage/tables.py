"""Access to the app's tables on one storage account."""
from __future__ import annotations

import threading
from typing import Any

from azure.data.tables import TableClient, TableServiceClient

SUBSCRIPTIONS = "Subscriptions"
WATCH_STATE = "WatchState"
DELIVERIES = "Deliveries"
DEAD_LETTERS = "DeadLetters"


class TableStore:
    """Opens tables by name, creating each one at most once per process.

    ``client_options`` go to the SDK client (e.g. ``raw_response_hook`` to count transactions).
    """

    def __init__(self, connection_string: str, **client_options: Any):
        self._service = TableServiceClient.from_connection_string(connection_string, **client_options)
        self._tables: dict[str, TableClient] = {}
        self._lock = threading.Lock()

    def table(self, name: str) -> TableClient:
        with self._lock:
            client = self._tables.get(name)
            if client is None:
                client = self._service.create_table_if_not_exists(name)
                self._tables[name] = client
            return client
