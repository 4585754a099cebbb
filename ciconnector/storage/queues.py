"""Sending JSON messages to the app's queues, base64-encoded as the Functions host expects."""
from __future__ import annotations

import json
import math
import threading
from typing import Any, Mapping

from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

from .azure_errors import mapped
from .clients import queue_client
from .connection import StorageConnection

POLL_QUEUE = "ci-poll"
DELIVERY_QUEUE = "ci-deliveries"
MAX_VISIBILITY_SECONDS = 7 * 24 * 3600 - 60
"""Queue storage caps the visibility delay at 7 days."""


class QueueSender:
    """Puts JSON messages on named queues, creating each queue at most once per process.

    ``connection`` is a connection string or identity-based (see :mod:`.connection`);
    ``client_options`` go to the SDK clients (e.g. ``raw_response_hook`` to count transactions).
    """

    def __init__(self, connection: StorageConnection, **client_options: Any):
        self._connection = connection
        self._options = client_options
        self._queues: dict[str, QueueClient] = {}
        self._lock = threading.Lock()

    def queue(self, name: str) -> QueueClient:
        with self._lock:
            client = self._queues.get(name)
            if client is None:
                client = queue_client(
                    self._connection, name, message_encode_policy=TextBase64EncodePolicy(),
                    message_decode_policy=TextBase64DecodePolicy(), **self._options)
                try:
                    client.create_queue()
                except ResourceExistsError:
                    pass
                self._queues[name] = client
            return client

    def send(self, name: str, message: Mapping[str, Any], *, delay_seconds: float = 0) -> None:
        """Enqueue ``message`` as JSON, invisible for ``delay_seconds`` (capped at 7 days); raises
        ``StorageUnavailable``."""
        delay = math.ceil(min(max(delay_seconds, 0), MAX_VISIBILITY_SECONDS))
        with mapped(f"queue {name}"):
            self.queue(name).send_message(json.dumps(message, separators=(",", ":")),
                                          visibility_timeout=delay or None, time_to_live=-1)
