"""The delivery queue's two message shapes.

* :class:`DeliveryMessage`: one notification for one subscription, ``{"instanceId", "subscriptionId",
  "eventId", "attempt", "notification"}`` and, when the poller made it, ``"callbackUrl"`` and
  ``"notFoundCount"`` (so the deliverer need not read the subscription on the happy path).
* :class:`FanoutMessage`: ``{"fanout": 1, "instanceId", "events": [{"eventId", "notification",
  "recipients": [[subscriptionId, callbackUrl, notFoundCount], ...]}, ...]}``: what one poll found,
  turned into one :class:`DeliveryMessage` per (event, recipient) by the delivery function
  (:meth:`~ciconnector.delivery.deliverer.Deliverer.fan_out`). :func:`pack_fanout` cuts them to the
  queue's message size.

Callback URLs carry a signature (``sig``): they are never in a ``repr`` and never logged.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Protocol, Sequence, TypeGuard

FANOUT_VERSION = 1
MAX_MESSAGE_BYTES = 45_000
"""Largest JSON fan-out message :func:`pack_fanout` makes: a Storage queue message holds 64 KiB
once base64-encoded (45 000 bytes become 60 000)."""


class MalformedMessageError(ValueError):
    """A queue message that is not a delivery message."""


class MessageQueue(Protocol):
    """Where the poller, the subscription service and the deliverer put delivery messages
    (``QueueSender``; ``MemoryQueues`` in tests and the bench)."""

    def send(self, name: str, message: Mapping[str, Any], *, delay_seconds: float = 0) -> None: ...


@dataclass(frozen=True)
class DeliveryMessage:
    """One notification for one subscription on the delivery queue.

    ``attempt`` counts the failed attempts before this one: 0 for a new event, n for the n-th retry.
    ``callback_url`` and ``not_found_count`` (the subscription's 404s in a row when the message was
    made) come with new events from the poller; without them (test notifications, replays, retries,
    older messages) the deliverer reads the subscription.
    """

    instance_id: str
    subscription_id: str
    event_id: str
    notification: Mapping[str, Any]
    attempt: int = 0
    callback_url: str | None = field(default=None, repr=False)
    not_found_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The queue message's JSON object."""
        data: dict[str, Any] = {"instanceId": self.instance_id, "subscriptionId": self.subscription_id,
                                "eventId": self.event_id, "attempt": self.attempt,
                                "notification": dict(self.notification)}
        if self.callback_url:
            data["callbackUrl"] = self.callback_url
        if self.not_found_count:
            data["notFoundCount"] = self.not_found_count
        return data

    @classmethod
    def parse(cls, body: str | bytes) -> "DeliveryMessage":
        """A delivery message from its JSON; raises :class:`MalformedMessageError`."""
        return cls.from_dict(_load(body))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "DeliveryMessage":
        instance_id, subscription_id, event_id = (data.get(k) for k in ("instanceId", "subscriptionId", "eventId"))
        if not (_is_text(instance_id) and _is_text(subscription_id) and _is_text(event_id)) \
                or not isinstance(data.get("notification"), dict):
            raise MalformedMessageError("delivery message lacks instanceId, subscriptionId, eventId or notification")
        attempt = data.get("attempt", 0)
        if not _is_count(attempt):
            raise MalformedMessageError("delivery message has a bad attempt number")
        callback_url = data.get("callbackUrl")
        if callback_url is not None and not _is_text(callback_url):
            raise MalformedMessageError("delivery message has a bad callbackUrl")
        not_found = data.get("notFoundCount", 0)
        if not _is_count(not_found):
            raise MalformedMessageError("delivery message has a bad notFoundCount")
        return cls(instance_id, subscription_id, event_id, data["notification"], attempt, callback_url, not_found)


Recipient = tuple[str, str, int]
"""``(subscription id, callback URL, not-found count)``."""


@dataclass(frozen=True)
class FanoutEvent:
    """One event of a :class:`FanoutMessage` and the subscriptions it goes to."""

    event_id: str
    notification: Mapping[str, Any]
    recipients: tuple[Recipient, ...] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"eventId": self.event_id, "notification": dict(self.notification),
                "recipients": [list(r) for r in self.recipients]}


@dataclass(frozen=True)
class FanoutMessage:
    """Events of one instance, each for several subscriptions: one queue message instead of one per
    (event, subscription), fanned out by the delivery function."""

    instance_id: str
    events: tuple[FanoutEvent, ...]

    def deliveries(self) -> list[DeliveryMessage]:
        """The first attempt of every (event, recipient)."""
        return [DeliveryMessage(self.instance_id, subscription_id, event.event_id, event.notification, 0,
                                callback_url, not_found)
                for event in self.events for subscription_id, callback_url, not_found in event.recipients]

    def to_dict(self) -> dict[str, Any]:
        return {"fanout": FANOUT_VERSION, "instanceId": self.instance_id, "events": [e.to_dict() for e in self.events]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FanoutMessage":
        if data.get("fanout") != FANOUT_VERSION:
            raise MalformedMessageError("fan-out message of an unknown version")
        instance_id, events = data.get("instanceId"), data.get("events")
        if not _is_text(instance_id) or not isinstance(events, list):
            raise MalformedMessageError("fan-out message lacks instanceId or events")
        parsed = []
        for event in events:
            if not isinstance(event, dict) or not _is_text(event.get("eventId")) \
                    or not isinstance(event.get("notification"), dict) or not isinstance(event.get("recipients"), list):
                raise MalformedMessageError("fan-out event lacks eventId, notification or recipients")
            recipients = []
            for r in event["recipients"]:
                if not (isinstance(r, list) and len(r) == 3 and _is_text(r[0]) and _is_text(r[1]) and _is_count(r[2])):
                    raise MalformedMessageError("fan-out recipient is not [subscriptionId, callbackUrl, notFoundCount]")
                recipients.append((r[0], r[1], r[2]))
            parsed.append(FanoutEvent(event["eventId"], event["notification"], tuple(recipients)))
        return cls(instance_id, tuple(parsed))


def parse_message(body: str | bytes) -> DeliveryMessage | FanoutMessage:
    """Either shape from its JSON; raises :class:`MalformedMessageError` on anything else."""
    data = _load(body)
    if "fanout" in data:
        return FanoutMessage.from_dict(data)
    return DeliveryMessage.from_dict(data)


def pack_fanout(instance_id: str, events: Iterable[tuple[str, Mapping[str, Any], Sequence[Recipient]]], *,
                max_bytes: int = MAX_MESSAGE_BYTES) -> list[dict[str, Any]]:
    """Fan-out messages (JSON objects) carrying ``events`` (``(event id, notification, recipients)``),
    each at most ``max_bytes`` as compact JSON (as ``QueueSender`` sends it).

    Events are packed in order, several to a message; an event whose recipients do not fit in one
    message is split over several, each repeating the notification. Events without recipients are
    left out. Raises ``ValueError`` when one event with one recipient exceeds ``max_bytes``.
    """
    envelope = _size({"fanout": FANOUT_VERSION, "instanceId": instance_id, "events": []})
    messages: list[dict[str, Any]] = []
    batch: list[dict[str, Any]] = []
    size = envelope

    def flush() -> None:
        nonlocal batch, size
        if batch:
            messages.append({"fanout": FANOUT_VERSION, "instanceId": instance_id, "events": batch})
        batch, size = [], envelope

    for event_id, notification, recipients in events:
        head = _size({"eventId": event_id, "notification": dict(notification), "recipients": []})
        pending = [[subscription_id, url, not_found] for subscription_id, url, not_found in recipients]
        while pending:
            room = max_bytes - size - head - (1 if batch else 0)  # a comma before a second event
            taken, used = 0, 0
            for recipient in pending:
                cost = _size(recipient) + (1 if taken else 0)
                if used + cost > room:
                    break
                taken, used = taken + 1, used + cost
            if not taken:
                if batch:
                    flush()
                    continue
                raise ValueError(f"event {event_id} with one recipient exceeds {max_bytes} bytes")
            size += head + used + (1 if batch else 0)
            batch.append({"eventId": event_id, "notification": dict(notification), "recipients": pending[:taken]})
            pending = pending[taken:]
            if pending:
                flush()
    flush()
    return messages


def _load(body: str | bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        raise MalformedMessageError("delivery message is not JSON") from None
    if not isinstance(data, dict):
        raise MalformedMessageError("delivery message is not an object")
    return data


def _size(value: Any) -> int:
    """Bytes of ``value`` as compact JSON (ASCII: non-ASCII characters are escaped)."""
    return len(json.dumps(value, separators=(",", ":")))


def _is_text(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
