"""In-memory stores with the Table stores' contract: the same records, ETag races, leases, claims
and errors (``RecordNotFound`` subclasses, ``ConcurrentChange``), proven by the same contract suite
(``tests/test_storage.py``).

They live in the package, not under ``tests/``, because they are an implementation of the store
contract like the Table stores (a change to one shows in this folder next to the other), and
because the functional tests and ``bench/`` build the app from them through
:meth:`ciconnector.services.Stores.memory`. Nothing in the function app uses them. Each store is
guarded by one lock, so threaded tests see the atomic conditional writes Table Storage gives.
"""
from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping

from ..errors import ConcurrentChange
from ..timeutil import utc_now
from .deliveries import Claims, DeadLetter, DeadLetterNotFoundError, DeliveryNotFoundError, DeliveryRecord
from .subscriptions import Subscription, SubscriptionNotFoundError, SubscriptionUpdates
from .watch import InstanceNotWatchedError, Leasing, WatchRecord

_etags = itertools.count(1)


def _etag() -> str:
    """A fresh ETag, unique in the process (as Table Storage's are per row version)."""
    return f'W/"memory-{next(_etags)}"'


class MemorySubscriptionStore(SubscriptionUpdates):
    """Subscriptions by (instance id, subscription id)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], Subscription] = {}
        self._lock = threading.Lock()

    def add(self, subscription: Subscription) -> Subscription:
        key = (subscription.instance_id, subscription.subscription_id)
        with self._lock:
            if key in self._rows:
                raise ConcurrentChange("subscription")
            stored = self._rows[key] = replace(subscription, parameters=dict(subscription.parameters), etag=_etag())
            return stored

    def get(self, instance_id: str, subscription_id: str) -> Subscription:
        with self._lock:
            try:
                return self._rows[(instance_id, subscription_id)]
            except KeyError:
                raise SubscriptionNotFoundError() from None

    def delete(self, instance_id: str, subscription_id: str) -> None:
        with self._lock:
            self._rows.pop((instance_id, subscription_id), None)

    def list_for_instance(self, instance_id: str) -> list[Subscription]:
        with self._lock:
            return [s for (pk, _), s in sorted(self._rows.items()) if pk == instance_id]

    def save(self, subscription: Subscription) -> Subscription:
        key = (subscription.instance_id, subscription.subscription_id)
        with self._lock:
            current = self._rows.get(key)
            if current is None or current.etag != subscription.etag:
                raise ConcurrentChange("subscription")
            stored = self._rows[key] = replace(subscription, parameters=dict(subscription.parameters), etag=_etag())
            return stored


@dataclass(frozen=True)
class _WatchRow:
    state: str
    etag: str
    lease_until: datetime | None = None


class MemoryWatchStore(Leasing):
    """One row per watched instance, with the Table store's lease and ETag rules."""

    def __init__(self) -> None:
        self._rows: dict[str, _WatchRow] = {}
        self._lock = threading.Lock()

    def watch(self, instance_id: str) -> None:
        with self._lock:
            row = self._rows.get(instance_id)
            self._rows[instance_id] = replace(row, etag=_etag()) if row else _WatchRow("", _etag())

    def list_watched(self) -> list[str]:
        with self._lock:
            return sorted(self._rows)

    def load(self, instance_id: str) -> WatchRecord:
        with self._lock:
            row = self._rows.get(instance_id)
        if row is None:
            raise InstanceNotWatchedError()
        return WatchRecord(instance_id, row.state, row.etag, row.lease_until)

    def renew_lease(self, lease: WatchRecord, *, seconds: float, now: datetime | None = None) -> WatchRecord:
        until = (now or utc_now()) + timedelta(seconds=seconds)
        row = self._replace(lease, lambda current: replace(current, lease_until=until))
        return WatchRecord(lease.instance_id, lease.state, row.etag, until)

    def commit(self, record: WatchRecord, state: str) -> WatchRecord:
        row = self._replace(record, lambda _: _WatchRow(state, ""))
        return WatchRecord(record.instance_id, state, row.etag, None)

    def unwatch(self, record: WatchRecord) -> None:
        with self._lock:
            row = self._rows.get(record.instance_id)
            if row is not None and row.etag != record.etag:
                raise ConcurrentChange(f"watch state of instance {record.instance_id}")
            self._rows.pop(record.instance_id, None)

    def _replace(self, record: WatchRecord, change: Callable[[_WatchRow], _WatchRow]) -> _WatchRow:
        """The ETag-conditional write of ``change(current row)``, with a new ETag."""
        with self._lock:
            current = self._rows.get(record.instance_id)
            if current is None or current.etag != record.etag:
                raise ConcurrentChange(f"watch state of instance {record.instance_id}")
            row = self._rows[record.instance_id] = replace(change(current), etag=_etag())
            return row


class MemoryDeliveryStore(Claims):
    """Delivery records by (subscription id, event id)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], DeliveryRecord] = {}
        self._lock = threading.Lock()

    def get(self, subscription_id: str, event_id: str) -> DeliveryRecord:
        with self._lock:
            try:
                return self._rows[(subscription_id, event_id)]
            except KeyError:
                raise DeliveryNotFoundError() from None

    def reset(self, subscription_id: str, event_id: str) -> None:
        with self._lock:
            self._rows.pop((subscription_id, event_id), None)

    def _create(self, record: DeliveryRecord) -> DeliveryRecord:
        key = (record.subscription_id, record.event_id)
        with self._lock:
            if key in self._rows:
                raise ConcurrentChange(f"delivery of event {record.event_id}")
            stored = self._rows[key] = replace(record, etag=_etag())
            return stored

    def _write(self, record: DeliveryRecord) -> DeliveryRecord:
        key = (record.subscription_id, record.event_id)
        with self._lock:
            current = self._rows.get(key)
            if current is None or current.etag != record.etag:
                raise ConcurrentChange(f"delivery of event {record.event_id}")
            stored = self._rows[key] = replace(record, etag=_etag())
            return stored


class MemoryDeadLetterStore:
    """Dead letters by (instance id, dead letter id)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], DeadLetter] = {}
        self._lock = threading.Lock()

    def add(self, letter: DeadLetter) -> None:
        with self._lock:
            self._rows[(letter.instance_id, letter.dead_letter_id)] = replace(
                letter, reason=letter.reason[:1000], notification=dict(letter.notification))

    def list_for_instance(self, instance_id: str) -> list[DeadLetter]:
        with self._lock:
            return [letter for (pk, _), letter in sorted(self._rows.items()) if pk == instance_id]

    def get(self, instance_id: str, dead_letter_id: str) -> DeadLetter:
        with self._lock:
            try:
                return self._rows[(instance_id, dead_letter_id)]
            except KeyError:
                raise DeadLetterNotFoundError() from None

    def remove(self, letter: DeadLetter) -> None:
        with self._lock:
            self._rows.pop((letter.instance_id, letter.dead_letter_id), None)


@dataclass(frozen=True)
class QueuedMessage:
    """A message put on a :class:`MemoryQueues` queue."""

    message: Mapping[str, Any]
    delay_seconds: float


class MemoryQueues:
    """Records what is sent, by queue name, for a test or the bench to take."""

    def __init__(self) -> None:
        self._queues: dict[str, list[QueuedMessage]] = {}
        self._lock = threading.Lock()

    def send(self, name: str, message: Mapping[str, Any], *, delay_seconds: float = 0) -> None:
        with self._lock:
            self._queues.setdefault(name, []).append(QueuedMessage(dict(message), delay_seconds))

    def take(self, name: str) -> list[QueuedMessage]:
        """Every message sent to ``name`` since the last take, oldest first (the queue is emptied)."""
        with self._lock:
            return self._queues.pop(name, [])
