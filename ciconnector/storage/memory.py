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
from typing import Any, Callable, Mapping, Sequence

from ..errors import ConcurrentChange, StorageUnavailable
from .deliveries import Claims, DeadLetter, DeadLetterNotFoundError, DeliveryNotFoundError, DeliveryRecord
from .subscriptions import Subscription, SubscriptionNotFoundError, SubscriptionUpdates
from .watch import WATCH_ROW, Op, RowMissing, StoredRow, WatchPartitions

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


class MemoryWatchStore(WatchPartitions):
    """Watch partitions in memory: the Table store's logic (:class:`WatchPartitions`) over rows in a
    dict, each transaction applied atomically under the lock with a fresh ETag per written row.

    Test hook: set ``fail_before_transaction = n`` and the next :meth:`commit` raises
    ``injected_failure()`` (``StorageUnavailable`` by default) just before its ``n``-th (1-based)
    transaction, as a crash or storage failure there would: the transactions before it stay
    committed, nothing of it or after it is written. It fires once (in the first commit that has an
    ``n``-th transaction), then resets to ``None``.
    """

    def __init__(self) -> None:
        self._partitions: dict[str, dict[str, StoredRow]] = {}
        self._lock = threading.Lock()
        self.fail_before_transaction: int | None = None
        self.injected_failure: Callable[[], BaseException] = StorageUnavailable

    def _before_commit_transaction(self, number: int) -> None:
        if self.fail_before_transaction is not None and number == self.fail_before_transaction:
            self.fail_before_transaction = None
            raise self.injected_failure()

    def _transact(self, instance_id: str, ops: Sequence[Op]) -> list[str]:
        with self._lock:
            rows = dict(self._partitions.get(instance_id, {}))
            etags = []
            for op in ops:
                current = rows.get(op.row_key)
                if op.kind in ("merge", "delete"):
                    if current is None:
                        if op.kind == "delete" and len(ops) == 1:
                            return [""]
                        raise RowMissing()
                    if op.etag is not None and op.etag != current.etag:
                        raise ConcurrentChange(f"watch state of instance {instance_id}")
                elif op.kind == "create" and current is not None:
                    raise ConcurrentChange(f"watch state of instance {instance_id}")
                if op.kind == "delete":
                    del rows[op.row_key]
                    etags.append("")
                    continue
                written = {k: v for k, v in op.props.items() if v is not None}
                if current is not None and op.kind in ("merge", "upsert"):
                    written = {**current.props, **written}
                rows[op.row_key] = StoredRow(op.row_key, written, _etag())
                etags.append(rows[op.row_key].etag)
            self._partitions[instance_id] = rows
            return etags

    def _query(self, instance_id: str, low: str, high: str) -> list[StoredRow]:
        with self._lock:
            rows = self._partitions.get(instance_id, {})
            return [rows[key] for key in sorted(rows) if low <= key < high]

    def _get(self, instance_id: str, row_key: str) -> StoredRow | None:
        with self._lock:
            return self._partitions.get(instance_id, {}).get(row_key)

    def _instances(self, *, active_only: bool) -> list[str]:
        with self._lock:
            return sorted(instance_id for instance_id, rows in self._partitions.items()
                          if WATCH_ROW in rows and (rows[WATCH_ROW].props.get("Active") or not active_only))


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
    """A message put on a :class:`MemoryQueues` queue; ``message_id`` is unique, as Queue Storage's
    message ids are (the delivery function passes it to the deliverer)."""

    message: Mapping[str, Any]
    delay_seconds: float
    message_id: str


_message_ids = itertools.count(1)


class MemoryQueues:
    """Records what is sent, by queue name, for a test or the bench to take."""

    def __init__(self) -> None:
        self._queues: dict[str, list[QueuedMessage]] = {}
        self._lock = threading.Lock()

    def send(self, name: str, message: Mapping[str, Any], *, delay_seconds: float = 0) -> None:
        with self._lock:
            self._queues.setdefault(name, []).append(
                QueuedMessage(dict(message), delay_seconds, f"memory-message-{next(_message_ids)}"))

    def take(self, name: str) -> list[QueuedMessage]:
        """Every message sent to ``name`` since the last take, oldest first (the queue is emptied)."""
        with self._lock:
            return self._queues.pop(name, [])

    def redeliver(self, name: str, queued: QueuedMessage) -> None:
        """Put a taken message back with its id, as the queue does when its worker died before
        finishing it (the message becomes visible again)."""
        with self._lock:
            self._queues.setdefault(name, []).append(queued)
