"""What the admin console shows that the other stores do not keep: each instance's last poll and its
CI calls in the last hour, and each subscription's last delivery attempt and the callback's answer.

Table ``Activity``, PartitionKey = instance id, bounded by design:

* ``poll``: the last poll (time, result, lists fetched and failed) and the last complete poll;
* ``calls.NN``: CI calls and failures of polls in one 5-minute bucket; twelve slots are reused in a
  ring (a slot whose bucket is older than an hour starts from zero), so an instance has 12 rows;
* ``sub.<subscription id>``: the last delivery attempt of that subscription (one row each).

Writes come from two hooks (:meth:`ActivityStore.poll_finished` in the poller,
:meth:`ActivityStore.delivery_answered` in the deliverer). They never fail a poll or a delivery: a
storage error is logged and dropped, as this is a view for people, not state the engine needs.
:class:`NoActivity` is the default of both, so tests and fakes need no table. Polls of one instance
are serialized by its lease, so the counters need no ETag; of two concurrent deliveries to one
subscription the later write wins, which is what "last delivery" means.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping, Protocol, Sequence

from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from .tables import DELIVERIES, TableStore

logger = logging.getLogger(__name__)

ACTIVITY = "Activity"
POLL_ROW = "poll"
CALLS_PREFIX = "calls."
SUBSCRIPTION_PREFIX = "sub."
BUCKET_MINUTES = 5
BUCKETS = 12
"""Twelve 5-minute buckets: the last hour."""
WINDOW = timedelta(minutes=BUCKET_MINUTES * BUCKETS)


class PollOutcome(Protocol):
    """What the poller reports about one cycle (its ``PollReport``)."""

    @property
    def instance_id(self) -> str: ...
    @property
    def fetched(self) -> Sequence[str]: ...
    @property
    def failed(self) -> Sequence[str]: ...
    @property
    def deliveries(self) -> int: ...
    @property
    def committed(self) -> bool: ...


class DeliveryAttempt(Protocol):
    """The delivery message that was sent (its ``DeliveryMessage``)."""

    @property
    def instance_id(self) -> str: ...
    @property
    def subscription_id(self) -> str: ...
    @property
    def event_id(self) -> str: ...
    @property
    def notification(self) -> Mapping[str, Any]: ...


class CallbackReply(Protocol):
    """What the callback answered (its ``CallbackAnswer``)."""

    @property
    def status_code(self) -> int | None: ...
    @property
    def error(self) -> str | None: ...


class ActivityRecorder(Protocol):
    """The hooks the poller and the deliverer call."""

    def poll_finished(self, report: PollOutcome) -> None: ...
    def delivery_answered(self, message: DeliveryAttempt, answer: CallbackReply) -> None: ...


class NoActivity:
    """Records nothing: the default recorder of the poller and the deliverer."""

    def poll_finished(self, report: PollOutcome) -> None:
        """Nothing to record."""

    def delivery_answered(self, message: DeliveryAttempt, answer: CallbackReply) -> None:
        """Nothing to record."""


@dataclass(frozen=True)
class PollActivity:
    """An instance's last poll. ``complete_at``: the last poll that read every list and committed
    (CI changes after it are not detected yet)."""

    at: datetime
    fetched: tuple[str, ...]
    failed: tuple[str, ...]
    deliveries: int
    committed: bool
    complete_at: datetime | None

    @property
    def ok(self) -> bool:
        return not self.failed and self.committed


@dataclass(frozen=True)
class CallCounts:
    """CI calls of polls (one per list fetched, its retries included) and how many failed."""

    calls: int = 0
    failures: int = 0


@dataclass(frozen=True)
class DeliveryActivity:
    """A subscription's last delivery attempt: the event and the callback's answer."""

    subscription_id: str
    event_id: str
    trigger: str
    is_test: bool
    subject: str
    outcome: str
    at: datetime
    status_code: int | None
    error: str | None


class ActivityStore:
    """Reads and writes the ``Activity`` table; also counts delivery records by status."""

    def __init__(self, tables: TableStore, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self._tables = tables
        self._clock = clock

    @property
    def _table(self):
        return self._tables.table(ACTIVITY)

    def poll_finished(self, report: PollOutcome) -> None:
        """Record a poll cycle that fetched from CI (the poller's hook)."""
        now = self._clock()
        row: dict[str, Any] = {"PartitionKey": report.instance_id, "RowKey": POLL_ROW, "At": now,
                               "Fetched": ",".join(report.fetched), "Failed": ",".join(report.failed),
                               "Deliveries": report.deliveries, "Committed": report.committed}
        if not report.failed and report.committed:
            row["CompleteAt"] = now
        try:
            self._table.upsert_entity(row, mode=UpdateMode.MERGE)
            self._count_calls(report.instance_id, now, len(report.fetched) + len(report.failed), len(report.failed))
        except AzureError as exc:
            logger.warning("could not record the poll of instance %s: %s", report.instance_id, type(exc).__name__)

    def delivery_answered(self, message: DeliveryAttempt, answer: CallbackReply) -> None:
        """Record a delivery attempt and the callback's answer (the deliverer's hook)."""
        note = message.notification
        row: dict[str, Any] = {"PartitionKey": message.instance_id,
                               "RowKey": SUBSCRIPTION_PREFIX + message.subscription_id,
                               "EventId": message.event_id, "Trigger": _text(note, "trigger"),
                               "IsTest": bool(note.get("isTest")),
                               "Subject": _text(note, "subjectName", "subjectId"),
                               "Outcome": _text(note, "outcome", "crossing", "status"), "At": self._clock(),
                               "StatusCode": answer.status_code, "Error": (answer.error or "")[:500]}
        try:
            self._table.upsert_entity(row, mode=UpdateMode.REPLACE)
        except AzureError as exc:
            logger.warning("could not record a delivery to subscription %s: %s", message.subscription_id,
                           type(exc).__name__)

    def _count_calls(self, instance_id: str, now: datetime, calls: int, failures: int) -> None:
        if not calls:
            return
        start = _bucket_start(now)
        row_key = f"{CALLS_PREFIX}{(int(start.timestamp()) // (BUCKET_MINUTES * 60)) % BUCKETS:02d}"
        try:
            current = self._table.get_entity(instance_id, row_key)
        except ResourceNotFoundError:
            current = None
        if current is not None and current.get("BucketStart") == start:
            calls += int(current.get("Calls") or 0)
            failures += int(current.get("Failures") or 0)
        self._table.upsert_entity({"PartitionKey": instance_id, "RowKey": row_key, "BucketStart": start,
                                   "Calls": calls, "Failures": failures}, mode=UpdateMode.REPLACE)

    def instances(self) -> list[str]:
        """Every instance with recorded activity (instances no longer watched included)."""
        return sorted({row["PartitionKey"] for row in self._table.list_entities(select=["PartitionKey"])})

    def read(self, instance_id: str) -> tuple[PollActivity | None, CallCounts, dict[str, DeliveryActivity]]:
        """An instance's last poll, CI calls in the last hour, and last delivery by subscription id
        (one partition query)."""
        since = self._clock() - WINDOW
        poll, calls, failures, deliveries = None, 0, 0, {}
        for row in self._table.query_entities("PartitionKey eq @pk", parameters={"pk": instance_id}):
            key = row["RowKey"]
            if key == POLL_ROW:
                poll = PollActivity(row["At"], _names(row.get("Fetched")), _names(row.get("Failed")),
                                    int(row.get("Deliveries") or 0), bool(row.get("Committed")), row.get("CompleteAt"))
            elif key.startswith(CALLS_PREFIX) and row["BucketStart"] > since:
                calls += int(row.get("Calls") or 0)
                failures += int(row.get("Failures") or 0)
            elif key.startswith(SUBSCRIPTION_PREFIX):
                subscription_id = key.removeprefix(SUBSCRIPTION_PREFIX)
                deliveries[subscription_id] = DeliveryActivity(
                    subscription_id, row.get("EventId", ""), row.get("Trigger", ""), bool(row.get("IsTest")),
                    row.get("Subject", ""), row.get("Outcome", ""), row["At"], row.get("StatusCode"),
                    row.get("Error") or None)
        return poll, CallCounts(calls, failures), deliveries

    def delivery_counts(self, subscription_id: str) -> Counter[str]:
        """Delivery records of one subscription by status (``delivered``, ``retrying``, ``dead``, …):
        one partition query of the ``Deliveries`` table, reading only the status."""
        try:
            rows = self._tables.table(DELIVERIES).query_entities("PartitionKey eq @pk",
                                                                  parameters={"pk": subscription_id},
                                                                  select=["Status"])
            return Counter(row["Status"] for row in rows)
        except ResourceNotFoundError:
            return Counter()


def _bucket_start(now: datetime) -> datetime:
    return now.replace(minute=now.minute - now.minute % BUCKET_MINUTES, second=0, microsecond=0)


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(name for name in (text or "").split(",") if name)


def _text(notification: Mapping[str, Any], *names: str) -> str:
    """The first of ``names`` the notification carries, as short text (what an admin reads)."""
    return next((str(notification[name])[:200] for name in names if notification.get(name) is not None), "")
