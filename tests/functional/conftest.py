"""The app built from in-memory stores, a fake CI and a scripted callback receiver: no Azurite, no
simulator, no host. ``world.settle()`` runs what the queues hold, as the host's queue functions would."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest

from ciconnector.delivery.deliverer import DeliveryOutcome
from ciconnector.delivery.message import DeliveryMessage, FanoutMessage, parse_message
from ciconnector.services import Services, Stores
from ciconnector.settings import Settings
from ciconnector.storage.memory import MemoryQueues, QueuedMessage
from ciconnector.storage.queues import DELIVERY_QUEUE
from ciconnector.storage.subscriptions import Subscription
from ciconnector.webhooks.subscribing import SubscribeRequest

from .fakes import INSTANCE, FakeCI, ScriptedCallbacks

CALLBACK = "https://flow.example.com/workflows/run?sig=secret"
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
ENVIRONMENT = {"CALLBACK_ALLOWED_HOSTS": "flow.example.com:443", "DELIVERY_RETRY_SCHEDULE": "5,300,1800"}


@dataclass
class World:
    """One app and everything around it; the clock moves only when a test says so."""

    ci: FakeCI = field(default_factory=FakeCI)
    callbacks: ScriptedCallbacks = field(default_factory=ScriptedCallbacks)
    stores: Stores = field(default_factory=Stores.memory)
    now: datetime = T0
    environment: dict[str, str] = field(default_factory=lambda: dict(ENVIRONMENT))

    def __post_init__(self) -> None:
        self.app = Services(Settings.from_environ(self.environment), stores=self.stores, ci=self.ci,  # type: ignore[arg-type]
                            sender=self.callbacks, clock=lambda: self.now)

    @property
    def queues(self) -> MemoryQueues:
        assert isinstance(self.stores.queues, MemoryQueues)
        return self.stores.queues

    def later(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def subscribe(self, kind: str, **parameters: object) -> Subscription:
        body = json.dumps({"callbackUrl": CALLBACK, **parameters}).encode()
        return self.app.subscription_service.subscribe(SubscribeRequest(INSTANCE, kind, body, "application/json"))

    def poll(self):
        [message] = self.app.poller.plan()
        return self.app.poller.poll(json.loads(message)["instanceId"])

    def queued(self) -> list[QueuedMessage]:
        return self.queues.take(DELIVERY_QUEUE)

    def deliver_queued(self) -> list[DeliveryOutcome]:
        """Deliver every queued message once (delays ignored: the test decides what time it is); a
        fan-out message is fanned out first and what it queued is delivered with the rest."""
        batch: list[tuple[DeliveryMessage, str]] = []
        for q in self.queued():
            message = parse_message(json.dumps(q.message))
            if isinstance(message, FanoutMessage):
                self.app.deliverer.fan_out(message)  # nothing else was queued since the take
                batch += [(DeliveryMessage.parse(json.dumps(f.message)), f.message_id) for f in self.queued()]
            else:
                batch.append((message, q.message_id))
        return [self.app.deliverer.deliver(message, message_id=message_id) for message, message_id in batch]


@pytest.fixture
def world() -> World:
    return World()
