"""The delivery queue message: one notification for one subscription."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping, Protocol


class MalformedMessageError(ValueError):
    """A queue message that is not a delivery message."""


class MessageQueue(Protocol):
    """Where the poller, the subscription service and the deliverer put delivery messages
    (``QueueSender``; ``MemoryQueues`` in tests and the bench)."""

    def send(self, name: str, message: Mapping[str, Any], *, delay_seconds: float = 0) -> None: ...


@dataclass(frozen=True)
class DeliveryMessage:
    """``{"instanceId", "subscriptionId", "eventId", "attempt", "notification"}`` on the delivery queue.

    ``attempt`` counts the failed attempts before this one: 0 for a new event, n for the n-th retry.
    """

    instance_id: str
    subscription_id: str
    event_id: str
    notification: Mapping[str, Any]
    attempt: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The queue message's JSON object."""
        return {"instanceId": self.instance_id, "subscriptionId": self.subscription_id, "eventId": self.event_id,
                "attempt": self.attempt, "notification": dict(self.notification)}

    @classmethod
    def parse(cls, body: str | bytes) -> "DeliveryMessage":
        try:
            data = json.loads(body)
        except ValueError:
            raise MalformedMessageError("delivery message is not JSON") from None
        if not isinstance(data, dict):
            raise MalformedMessageError("delivery message is not an object")
        instance_id, subscription_id, event_id = (data.get(k) for k in ("instanceId", "subscriptionId", "eventId"))
        if not (isinstance(instance_id, str) and instance_id and isinstance(subscription_id, str) and subscription_id
                and isinstance(event_id, str) and event_id) or not isinstance(data.get("notification"), dict):
            raise MalformedMessageError("delivery message lacks instanceId, subscriptionId, eventId or notification")
        attempt = data.get("attempt", 0)
        if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 0:
            raise MalformedMessageError("delivery message has a bad attempt number")
        return cls(instance_id, subscription_id, event_id, data["notification"], attempt)
