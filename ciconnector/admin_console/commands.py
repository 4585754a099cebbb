"""The console's actions that the admin API did not have: re-enable a disabled subscription, replay
every dead letter of an instance. Replaying one dead letter and sending a test notification use the
existing admin endpoints (the deliverer's replay, the subscription service's test)."""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Protocol

from ..delivery.deliverer import Deliverer
from ..storage.subscriptions import Subscription
from ..webhooks.subscribing import Watching
from .overview import InstanceDeadLetters


class EnabledSubscriptions(Protocol):
    """Subscriptions read and updated (``SubscriptionStore`` or ``MemorySubscriptionStore``)."""

    def get(self, instance_id: str, subscription_id: str) -> Subscription: ...
    def update(self, instance_id: str, subscription_id: str,
               change: Callable[[Subscription], Subscription]) -> Subscription: ...


class ConsoleCommands:
    """Admin actions on subscriptions and dead letters."""

    def __init__(self, *, subscriptions: EnabledSubscriptions, watch: Watching, dead_letters: InstanceDeadLetters,
                 deliverer: Deliverer):
        self._subscriptions = subscriptions
        self._watch = watch
        self._dead_letters = dead_letters
        self._deliverer = deliverer

    def enable(self, instance_id: str, subscription_id: str) -> None:
        """Enable a subscription and clear its 404 count, then watch the instance, as subscribe does:
        the new subscription generation makes the next poll read the subscriptions, and re-activates
        an instance a poll stopped watching when it saw only disabled ones. Raises
        ``SubscriptionNotFoundError`` when there is no such subscription."""
        instance_id, subscription_id = instance_id.lower(), subscription_id.lower()
        self._subscriptions.update(instance_id, subscription_id, lambda s: replace(s, enabled=True, not_found_count=0))
        self._watch.watch(instance_id)

    def replay_all(self, instance_id: str) -> dict[str, int]:
        """Replay every dead letter of the instance; letters whose subscription is gone stay."""
        replayed = skipped = 0
        for letter in self._dead_letters.list_for_instance(instance_id.lower()):
            try:
                self._deliverer.replay(letter.instance_id, letter.dead_letter_id)
                replayed += 1
            except LookupError:  # the letter or its subscription is gone (the stores' not-found errors)
                skipped += 1
        return {"replayed": replayed, "skipped": skipped}
