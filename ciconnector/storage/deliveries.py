"""Delivery records (one per event and subscription) and dead letters.

A record is written when a queue message claims the delivery (status ``sent``) and again only if
the POST did not succeed (``retrying``, ``dead``, ``dropped``): a delivered notification costs one
write. See :mod:`ciconnector.delivery.deliverer` for why one attempt runs at a time.
"""
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

SENT, RETRYING, DELIVERED, DROPPED, DEAD = "sent", "retrying", "delivered", "dropped", "dead"
"""``sent``: POSTed, or being POSTed by the queue message ``MessageId``; delivered unless a later
write says otherwise. ``retrying``: the attempt failed, a retry is queued. ``dead``: given up on (a
dead letter). ``dropped``: not sent, the subscription being gone. ``delivered``: records written
before ``sent`` existed (a 2xx is no longer written)."""


@dataclass(frozen=True)
class EventSummary:
    """What the admin console shows of the event a record is about (taken from its notification)."""

    trigger: str = ""
    subject: str = ""
    outcome: str = ""
    is_test: bool = False

    @classmethod
    def of(cls, notification: Mapping[str, Any]) -> "EventSummary":
        return cls(_text(notification, "trigger"), _text(notification, "subjectName", "subjectId"),
                   _text(notification, "outcome", "crossing", "status"), bool(notification.get("isTest")))

    def to_entity(self) -> dict[str, Any]:
        entity = {"Trigger": self.trigger, "Subject": self.subject, "EventOutcome": self.outcome,
                  "IsTest": self.is_test}
        return {k: v for k, v in entity.items() if v}

    @classmethod
    def from_entity(cls, e: Mapping[str, Any]) -> "EventSummary":
        return cls(e.get("Trigger") or "", e.get("Subject") or "", e.get("EventOutcome") or "", bool(e.get("IsTest")))


@dataclass(frozen=True)
class DeliveryRecord:
    """The state of delivering one event to one subscription; PartitionKey = subscription id, RowKey = event id.

    ``attempts`` counts failed attempts; ``message_id`` is the queue message that claimed the
    current attempt.
    """

    subscription_id: str
    event_id: str
    instance_id: str
    status: str = SENT
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    updated_at: datetime | None = None
    message_id: str | None = None
    about: EventSummary = EventSummary()
    etag: str | None = field(default=None, compare=False, repr=False)

    def to_entity(self) -> dict[str, Any]:
        entity = {"PartitionKey": self.subscription_id, "RowKey": self.event_id, "InstanceId": self.instance_id,
                  "Status": self.status, "Attempts": self.attempts,
                  "UpdatedAt": self.updated_at or utc_now(), **self.about.to_entity()}
        if self.message_id:
            entity["MessageId"] = self.message_id
        if self.last_status_code is not None:
            entity["LastStatusCode"] = self.last_status_code
        if self.last_error:
            entity["LastError"] = self.last_error[:1000]
        return entity

    @classmethod
    def from_entity(cls, e: Mapping[str, Any]) -> "DeliveryRecord":
        return cls(e["PartitionKey"], e["RowKey"], e.get("InstanceId", ""), e["Status"],
                   int(e.get("Attempts") or 0), e.get("LastStatusCode"), e.get("LastError"), e.get("UpdatedAt"),
                   e.get("MessageId"), EventSummary.from_entity(e),
                   e.metadata.get("etag") if hasattr(e, "metadata") else None)


class DeliveryNotFoundError(RecordNotFound):
    """The event was never handled for this subscription (or its record was reset)."""

    def __init__(self) -> None:
        super().__init__("DeliveryNotFound", "No such delivery.", field="eventId")


class RetryNotQueued(ConcurrentChange):
    """This very queue message recorded a retry and then died before queuing it: queue it now."""

    def __init__(self, record: "DeliveryRecord"):
        super().__init__(f"delivery of event {record.event_id}")
        self.record = record


class Claims(ABC):
    """``claim`` and ``settle`` for any delivery store with ``get``, ``_create`` and ``_write``."""

    def claim(self, subscription_id: str, event_id: str, instance_id: str, *, attempt: int, message_id: str,
              about: EventSummary | None = None) -> DeliveryRecord:
        """Let queue message ``message_id`` send attempt number ``attempt`` (0 for a new event).

        * no record, ``attempt`` 0: creates it, status ``sent`` (one round trip; the common case);
        * status ``sent`` by this very message: the message is back after its worker died, maybe
          mid-POST; returned as it is (no write) to be sent again;
        * status ``retrying`` after ``attempt`` failed attempts: taken over by this retry with one
          ETag-conditional write (status ``sent``, this message id);
        * status ``retrying`` written by this very message (it recorded the failure, then died
          before queuing the retry): raises :class:`RetryNotQueued`, so the retry is queued now (a
          retry queued twice is harmless: the second copy finds the first's claim);
        * anything else (``sent`` by another message, a final status, another attempt number, no
          record for a retry): raises ``ConcurrentChange``, the message is a duplicate or stale.

        ``about`` (the event, for the console) is stored with a new record.
        """
        now = utc_now()
        if attempt == 0:
            try:
                return self._create(DeliveryRecord(subscription_id, event_id, instance_id, status=SENT,
                                                   updated_at=now, message_id=message_id,
                                                   about=about or EventSummary()))
            except ConcurrentChange:
                pass
        try:
            current = self.get(subscription_id, event_id)
        except DeliveryNotFoundError:  # a retry of a chain reset by a replay
            raise ConcurrentChange(f"delivery of event {event_id}") from None
        if current.status == SENT and current.message_id == message_id:
            return current
        if current.status == RETRYING and current.attempts == attempt:
            return self._write(replace(current, status=SENT, message_id=message_id, updated_at=now))
        if current.status == RETRYING and current.message_id == message_id and current.attempts == attempt + 1:
            raise RetryNotQueued(current)
        raise ConcurrentChange(f"delivery of event {event_id}")

    def settle(self, record: DeliveryRecord, *, status: str, status_code: int | None = None,
               error: str | None = None) -> DeliveryRecord:
        """Record the failed outcome of one attempt (``attempts`` grows by one); raises
        ``ConcurrentChange`` if the record changed since ``record`` was read."""
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
            # the claim is the hot path of every delivery: the service need not echo the entity back
            metadata = self._table.create_entity(record.to_entity(), response_preference="return-no-content")
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


def _text(notification: Mapping[str, Any], *names: str) -> str:
    """The first of ``names`` the notification carries, as short text (what an admin reads)."""
    return next((str(notification[name])[:200] for name in names if notification.get(name) is not None), "")
