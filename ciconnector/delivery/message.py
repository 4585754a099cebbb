"""The delivery queue message: one notification for one subscription."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping


class MalformedMessageError(ValueError):
    """A queue message that is not a delivery message."""


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

    def to_json(self) -> dict[str, Any]:
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
        fields = [data.get(k) for k in ("instanceId", "subscriptionId", "eventId")]
        if not all(isinstance(f, str) and f for f in fields) or not isinstance(data.get("notification"), dict):
            raise MalformedMessageError("delivery message lacks instanceId, subscriptionId, eventId or notification")
        attempt = data.get("attempt", 0)
        if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 0:
            raise MalformedMessageError("delivery message has a bad attempt number")
        return cls(*fields, data["notification"], attempt)
