"""Queue clients for bindings, the host.json message encoding, and same-host wake-ups.

A binding's ``connection`` is resolved by the app's own ``ciconnector.storage.connection`` (a
connection string, or ``<name>__queueServiceUri``/``__accountName`` with a managed identity), so
the local host and the app can never disagree about which account and credential a name means.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import os
import re
import threading

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.queue import ExponentialRetry, QueueClient

from ciconnector.storage import clients
from ciconnector.storage.connection import (
    DEFAULT_CONNECTION,
    StorageConnection,
    StorageConnectionError,
    StorageNotConfiguredError,
    resolve,
)

from .errors import HostError
from .settings import expand_dev_storage

_QUEUE_NAME = re.compile(r"^(?=.{3,63}$)[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]$")


def connection(setting: str | None) -> StorageConnection:
    """The storage connection behind a binding's ``connection`` app-setting name (HostError if none)."""
    name = setting or DEFAULT_CONNECTION
    try:
        resolved = resolve(name, environ=os.environ, binding=True)
    except StorageNotConfiguredError:
        raise HostError(f"Storage account connection string '{name}' does not exist. Make sure that it is a "
                        f"defined App Setting (or that {name}__queueServiceUri or {name}__accountName "
                        "is, for an identity-based connection).") from None
    except StorageConnectionError as exc:
        raise HostError(str(exc)) from None
    if resolved.connection_string:
        return dataclasses.replace(resolved, connection_string=expand_dev_storage(resolved.connection_string))
    return resolved


connection_string = connection
"""The name queues.py and invocation.py import; it returns a :class:`StorageConnection` now."""


def check_queue_name(name: str, what: str) -> str:
    """``name`` if it is a valid queue name, else a HostError."""
    if not _QUEUE_NAME.match(name):
        raise HostError(f"{what}: '{name}' is not a valid queue name (3-63 lowercase letters, "
                        "digits and single dashes)")
    return name


class QueueStore:
    """Raw queue clients (the host encodes and decodes message text itself).

    Reading raw text lets the host handle a message that is not valid base64 (it goes to the
    poison queue, as in the real host) instead of failing the whole receive call.
    """

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._clients: dict[tuple[StorageConnection, str], QueueClient] = {}
        self._wakeups: dict[tuple[StorageConnection, str], list[threading.Event]] = {}
        self._lock = threading.Lock()

    def client(self, connection: StorageConnection, queue: str) -> QueueClient:
        """A client for ``queue`` of the account behind ``connection``; the queue is created if missing."""
        key = (connection, queue)
        with self._lock:
            client = self._clients.get(key)
        if client is None:
            retry = ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=2)  # fail fast locally
            client = clients.queue_client(connection, queue, retry_policy=retry)
            self.create(client)
            with self._lock:
                client = self._clients.setdefault(key, client)
        return client

    @staticmethod
    def create(client: QueueClient) -> None:
        """Create the client's queue unless it exists."""
        with contextlib.suppress(ResourceExistsError):
            client.create_queue()

    def encode(self, body: bytes) -> str:
        """Message text for ``body`` under the configured encoding."""
        return base64.b64encode(body).decode("ascii") if self.encoding == "base64" else body.decode("utf-8")

    def decode(self, content: str) -> bytes:
        """Message body from stored text; ValueError if it is not valid under the encoding."""
        if self.encoding != "base64":
            return content.encode("utf-8")
        try:
            return base64.b64decode(content, validate=True)
        except binascii.Error as exc:
            raise ValueError("message is not valid base64") from exc

    def send(self, connection: StorageConnection, queue: str, body: bytes) -> None:
        """Put one message and wake listeners of this host on that queue."""
        self.send_raw(connection, queue, self.encode(body))

    def send_raw(self, connection: StorageConnection, queue: str, content: str) -> None:
        """Put stored text as is; a queue deleted meanwhile is created again (as the real host does)."""
        client = self.client(connection, queue)
        try:
            client.send_message(content)
        except ResourceNotFoundError:
            self.create(client)
            client.send_message(content)
        with self._lock:
            events = list(self._wakeups.get((connection, queue), ()))
        for event in events:
            event.set()

    def wakeup(self, connection: StorageConnection, queue: str) -> threading.Event:
        """An event set whenever this host puts a message on ``queue``."""
        event = threading.Event()
        with self._lock:
            self._wakeups.setdefault((connection, queue), []).append(event)
        return event
