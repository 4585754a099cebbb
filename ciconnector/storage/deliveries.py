"""Delivery records (one per event and subscription) and dead letters."""
from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Mapping

from azure.core import MatchConditions
from azure.data.tables import UpdateMode

from ..errors import ConcurrentChange, RecordNotFound
from ..timeutil import utc_now
from .azure_errors import mapped
from .tables import DEAD_LETTERS, DELIVERIES, TableStore

SENDING, RETRYING, DELIVERED, DROPPED, DEAD = "sending", "retrying", "delivered", "dropped", "dead"
FINAL_STATUSES = frozenset({DELIVERED, DROPPED, DEAD})


@dataclass(frozen=True)
class DeliveryRecord:
    """The state of delivering one event to one subscription; PartitionKey = subscription id, RowKey = event id."""

    subscription_id: str
    event_id: str
    instance_id: str
    status: str = SENDING
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    updated_at: datetime | None = None
    etag: str | None = field(default=None, compare=False, repr=False)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def to_entity(self) -> dict[str, Any]:
        entity = {"PartitionKey": self.subscription_id, "RowKey": self.event_id, "InstanceId": self.instance_id,
                  "Status": self.status, "Attempts": self.attempts,
                  "UpdatedAt": self.updated_at or utc_now()}
        if self.last_status_code is not None:
            entity["LastStatusCode"] = self.last_status_code
        if self.last_error:
            entity["LastError"] = self.last_error[:1000]
        return entity

    @classmethod
    def from_entity(cls, e: Mapping[str, Any]) -> "DeliveryRecord":
        return cls(e["PartitionKey"], e["RowKey"], e.get("InstanceId", ""), e["Status"],
                   int(e.get("Attempts") or 0), e.get("LastStatusCode"), e.get("LastError"), e.get("UpdatedAt"),
                   e.metadata.get("etag") if hasattr(e, "metadata") else None)


class DeliveryNotFoundError(RecordNotFound):
    """The event was never handled for this subscription (or its record was reset)."""

    def __init__(self) -> None:
        super().__init__("DeliveryNotFound", "No such delivery.", field="eventId")


class DeliveryInProgressError(ConcurrentChange):
    """Another worker is sending this delivery right now (a race still running: look again later)."""

    def __init__(self, event_id: str):
        super().__init__(f"delivery of event {event_id}")


class Claims(ABC):
    """``claim`` and ``settle`` for any delivery store with ``get``, ``_create`` and ``_write``."""

    def claim(self, subscription_id: str, event_id: str, instance_id: str, *, attempt: int,
              stale_after: float) -> DeliveryRecord:
        """Mark the delivery as being sent by this worker, for its attempt number ``attempt``.

        Raises :class:`DeliveryInProgressError` while another worker's send of the same attempt
        started less than ``stale_after`` seconds ago (an older one is taken over), and
        ``ConcurrentChange`` when the delivery is final or the record shows another attempt number
        (a stale copy: an event re-emitted after a crash, or a retry of a chain that moved on or
        was replayed) or another worker claimed it first.
        """
        now = utc_now()
        if attempt == 0:
            try:  # the common case, a new event: one round trip
                return self._create(DeliveryRecord(subscription_id, event_id, instance_id, status=SENDING,
                                                   updated_at=now))
            except ConcurrentChange:
                pass
        try:
            current = self.get(subscription_id, event_id)
        except DeliveryNotFoundError:
            raise ConcurrentChange(f"delivery of event {event_id}") from None
        if current.is_final or current.attempts != attempt:
            raise ConcurrentChange(f"delivery of event {event_id}")
        if current.status == SENDING and current.updated_at and \
                (now - current.updated_at).total_seconds() < stale_after:
            raise DeliveryInProgressError(event_id)
        return self._write(replace(current, status=SENDING, updated_at=now))

    def settle(self, record: DeliveryRecord, *, status: str, status_code: int | None = None,
               error: str | None = None) -> DeliveryRecord:
        """Record the outcome of one attempt (``attempts`` grows by one); raises ``ConcurrentChange``
        if another worker took over."""
        return self._write(replace(record, status=status, attempts=record.attempts + 1, last_status_code=status_code,
                                   last_error=error, updated_at=utc_now()))

    @abstractmethod
    def get(self, subscription_id: str, event_id: str) -> DeliveryRecord:
        """The record; raises :class:`DeliveryNotFoundError`."""

    @abstractmethod
    def _create(self, record: DeliveryRecord) -> DeliveryRecord:
        """Store a new record; raises ``ConcurrentChange`` when one exists."""

    @abstractmethod
    def _write(self, record: DeliveryRecord) -> DeliveryRecord:
        """Replace the record if its ETag still matches; raises ``ConcurrentChange``."""


class DeliveryStore(Claims):
    """Records of deliveries; the ETag-guarded claim makes one worker send a given event."""

    def __init__(self, tables: TableStore):
        self._tables = tables

    @property
    def _table(self):
        return self._tables.table(DELIVERIES)

    def get(self, subscription_id: str, event_id: str) -> DeliveryRecord:
        with mapped(f"delivery of event {event_id}", missing=DeliveryNotFoundError):
            return DeliveryRecord.from_entity(self._table.get_entity(subscription_id, event_id))

    def reset(self, subscription_id: str, event_id: str) -> None:
        """Forget a delivery so it can be sent again (replay of a dead letter)."""
        with mapped(f"delivery of event {event_id}"):
            self._table.delete_entity(subscription_id, event_id)

    def _create(self, record: DeliveryRecord) -> DeliveryRecord:
        with mapped(f"delivery of event {record.event_id}"):
            metadata = self._table.create_entity(record.to_entity())
        return replace(record, etag=metadata.get("etag"))

    def _write(self, record: DeliveryRecord) -> DeliveryRecord:
        with mapped(f"delivery of event {record.event_id}"):
            metadata = self._table.update_entity(record.to_entity(), mode=UpdateMode.REPLACE, etag=record.etag,
                                                 match_condition=MatchConditions.IfNotModified)
        return replace(record, etag=metadata.get("etag"))


class DeadLetterNotFoundError(RecordNotFound):
    """No dead letter with that id exists for that instance."""

    def __init__(self) -> None:
        super().__init__("DeadLetterNotFound", "No such dead letter.", field="deadLetterId")


@dataclass(frozen=True)
class DeadLetter:
    """A notification given up on; PartitionKey = instance id, RowKey = ``<subscription id>.<event id>``."""

    instance_id: str
    subscription_id: str
    event_id: str
    reason: str
    attempts: int
    notification: Mapping[str, Any]
    dead_at: datetime

    @property
    def dead_letter_id(self) -> str:
        return f"{self.subscription_id}.{self.event_id}"

    def to_dict(self) -> dict[str, Any]:
        """What admins see (the notification itself only through replay)."""
        return {"deadLetterId": self.dead_letter_id, "instanceId": self.instance_id,
                "subscriptionId": self.subscription_id, "eventId": self.event_id, "reason": self.reason,
                "attempts": self.attempts, "deadAt": self.dead_at.isoformat(),
                "trigger": self.notification.get("trigger")}


class DeadLetterStore:
    """Dead letters an admin can list and replay."""

    def __init__(self, tables: TableStore):
        self._tables = tables

    @property
    def _table(self):
        return self._tables.table(DEAD_LETTERS)

    def add(self, letter: DeadLetter) -> None:
        """Store (or replace) the dead letter of one (subscription, event)."""
        with mapped("dead letter"):
            self._table.upsert_entity({
                "PartitionKey": letter.instance_id, "RowKey": letter.dead_letter_id,
                "SubscriptionId": letter.subscription_id, "EventId": letter.event_id, "Reason": letter.reason[:1000],
                "Attempts": letter.attempts, "Notification": json.dumps(dict(letter.notification)),
                "DeadAt": letter.dead_at}, mode=UpdateMode.REPLACE)

    def list_for_instance(self, instance_id: str) -> list[DeadLetter]:
        """Every dead letter of one instance (one partition query)."""
        with mapped("dead letters"):
            entities = self._table.query_entities("PartitionKey eq @pk", parameters={"pk": instance_id})
            return [self._letter(e) for e in entities]

    def get(self, instance_id: str, dead_letter_id: str) -> DeadLetter:
        """One dead letter; raises :class:`DeadLetterNotFoundError`."""
        with mapped("dead letter", missing=DeadLetterNotFoundError):
            return self._letter(self._table.get_entity(instance_id, dead_letter_id))

    def remove(self, letter: DeadLetter) -> None:
        """Remove a dead letter; removing one that is gone is not an error."""
        with mapped("dead letter"):
            self._table.delete_entity(letter.instance_id, letter.dead_letter_id)

    @staticmethod
    def _letter(e: Mapping[str, Any]) -> DeadLetter:
        return DeadLetter(e["PartitionKey"], e["SubscriptionId"], e["EventId"], e.get("Reason", ""),
                          int(e.get("Attempts") or 0), json.loads(e.get("Notification") or "{}"), e["DeadAt"])
