"""Delivering one notification: send, then record, retry later, disable or dead-letter.

Outcomes of a POST to the callback URL:

* 2xx: delivered.
* 410 Gone: the flow is gone; the subscription is removed.
* 404: counted on the subscription; after ``disable_after_not_found`` in a row it is disabled and
  the notification dead-lettered; before that it is retried like a transient failure.
* 408, 429, 5xx, timeouts, connection errors: retried on the :class:`RetrySchedule` (re-enqueued
  with a visibility delay, ``Retry-After`` honoured), then dead-lettered.
* any other status (400, 401, 403, 413, 3xx, …): the flow refused the notification; dead-lettered
  at once, as retrying cannot help. An admin can replay dead letters.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Callable, Mapping, Protocol

from ..errors import ConcurrentChange
from ..storage.activity import ActivityRecorder, NoActivity
from ..storage.deliveries import DEAD, DELIVERED, DROPPED, RETRYING, DeadLetter, DeliveryInProgressError, DeliveryRecord
from ..storage.queues import DELIVERY_QUEUE
from ..storage.subscriptions import Subscription, SubscriptionNotFoundError
from ..timeutil import utc_now
from ..webhooks.subscribing import Watching
from .message import DeliveryMessage, MessageQueue
from .schedule import RetrySchedule
from .sender import CallbackAnswer

logger = logging.getLogger(__name__)

TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class Callbacks(Protocol):
    """POSTs a notification to a callback URL (``CallbackSender``; a scripted fake in the functional tests)."""

    def post(self, url: str, notification: Mapping[str, Any], *, event_id: str) -> CallbackAnswer: ...


class DeliverySubscriptions(Protocol):
    """The subscription of each delivery (``SubscriptionStore`` or ``MemorySubscriptionStore``)."""

    def get(self, instance_id: str, subscription_id: str) -> Subscription: ...
    def delete(self, instance_id: str, subscription_id: str) -> None: ...
    def update(self, instance_id: str, subscription_id: str,
               change: Callable[[Subscription], Subscription]) -> Subscription: ...


class DeliveryRecords(Protocol):
    """Claims and outcomes per (subscription, event) (``DeliveryStore`` or ``MemoryDeliveryStore``)."""

    def claim(self, subscription_id: str, event_id: str, instance_id: str, *, attempt: int,
              stale_after: float) -> DeliveryRecord: ...
    def settle(self, record: DeliveryRecord, *, status: str, status_code: int | None = None,
               error: str | None = None) -> DeliveryRecord: ...
    def reset(self, subscription_id: str, event_id: str) -> None: ...


class DeadLetters(Protocol):
    """Notifications given up on (``DeadLetterStore`` or ``MemoryDeadLetterStore``)."""

    def add(self, letter: DeadLetter) -> None: ...
    def get(self, instance_id: str, dead_letter_id: str) -> DeadLetter: ...
    def remove(self, letter: DeadLetter) -> None: ...


@dataclass(frozen=True)
class DeliveryOutcome:
    """What handling one delivery message did: ``status`` is a delivery status, ``duplicate`` (already
    handled) or ``deferred`` (another worker is sending it; the message comes back later)."""

    status: str
    status_code: int | None = None
    retry_in: float | None = None


class Deliverer:
    """Handles delivery queue messages."""

    def __init__(self, *, subscriptions: DeliverySubscriptions, deliveries: DeliveryRecords,
                 dead_letters: DeadLetters, queues: MessageQueue, sender: Callbacks, schedule: RetrySchedule,
                 disable_after_not_found: int, send_timeout: float, watch: Watching,
                 activity: ActivityRecorder = NoActivity(), clock: Callable[[], datetime] = utc_now):
        self._subscriptions = subscriptions
        self._activity = activity  # what the admin console shows: each subscription's last answer
        self._watch = watch
        self._deliveries = deliveries
        self._dead_letters = dead_letters
        self._queues = queues
        self._sender = sender
        self._schedule = schedule
        self._disable_after = disable_after_not_found
        # a send of the same attempt that started less than this ago may still await its answer:
        # a duplicate message waits for it rather than sending a second copy in parallel
        self._stale_after = send_timeout + 15
        self._clock = clock

    def deliver(self, message: DeliveryMessage) -> DeliveryOutcome:
        """Handle one delivery message: send it unless another copy did or does, and record the outcome."""
        try:
            record = self._deliveries.claim(message.subscription_id, message.event_id, message.instance_id,
                                            attempt=message.attempt, stale_after=self._stale_after)
        except DeliveryInProgressError:
            # a duplicate message while another worker sends: look again once that send is over or stale
            self._queues.send(DELIVERY_QUEUE, message.to_dict(), delay_seconds=self._stale_after)
            return DeliveryOutcome("deferred", retry_in=self._stale_after)
        except ConcurrentChange:
            return DeliveryOutcome("duplicate")
        try:
            subscription = self._subscriptions.get(message.instance_id, message.subscription_id)
        except SubscriptionNotFoundError:
            self._settle(record, status=DROPPED, error="subscription removed")
            return DeliveryOutcome(DROPPED)
        if not subscription.enabled:
            return self._dead_letter(message, record, "subscription is disabled", None)

        answer = self._sender.post(subscription.callback_url, message.notification, event_id=message.event_id)
        self._activity.delivery_answered(message, answer)
        code = answer.status_code
        log_target = f"subscription {subscription.subscription_id} (instance {subscription.instance_id})"
        if code is not None and 200 <= code < 300:
            self._settle(record, status=DELIVERED, status_code=code)
            if subscription.not_found_count:
                self._update_subscription(subscription, lambda s: replace(s, not_found_count=0))
            logger.info("delivered event %s to %s", message.event_id, log_target)
            return DeliveryOutcome(DELIVERED, code)
        if code == 410:
            self._subscriptions.delete(subscription.instance_id, subscription.subscription_id)
            self._settle(record, status=DROPPED, status_code=code, error="callback answered 410 Gone")
            logger.info("removed %s: its callback answered 410 Gone", log_target)
            return DeliveryOutcome(DROPPED, code)
        if code == 404:
            updated = self._update_subscription(subscription, self._count_not_found)
            if updated is not None and not updated.enabled:
                logger.warning("disabled %s after %d answers 404", log_target, updated.not_found_count)
                return self._dead_letter(message, record, "callback answered 404 repeatedly; subscription disabled",
                                         code)
        elif code is not None and code not in TRANSIENT_STATUSES:
            return self._dead_letter(message, record, f"callback refused the notification (HTTP {code})", code)
        return self._retry_later(message, record, answer)

    def _retry_later(self, message: DeliveryMessage, record: DeliveryRecord, answer: CallbackAnswer) -> DeliveryOutcome:
        error = answer.error or f"HTTP {answer.status_code}"
        delay = self._schedule.delay_after(record.attempts + 1, answer.retry_after)
        if delay is None:
            return self._dead_letter(message, record, f"retries exhausted; last error: {error}", answer.status_code)
        try:
            settled = self._deliveries.settle(record, status=RETRYING, status_code=answer.status_code, error=error)
        except ConcurrentChange:  # another worker took the delivery over: its outcome counts
            return DeliveryOutcome("duplicate")
        self._queues.send(DELIVERY_QUEUE, replace(message, attempt=settled.attempts).to_dict(), delay_seconds=delay)
        logger.info("delivery of event %s to subscription %s failed (%s); attempt %d in %.0fs",
                    message.event_id, message.subscription_id, error, record.attempts + 2, delay)
        return DeliveryOutcome(RETRYING, answer.status_code, delay)

    def _settle(self, record: DeliveryRecord, *, status: str, status_code: int | None = None,
                error: str | None = None) -> None:
        """Record a final outcome; a worker that took the delivery over meanwhile keeps its own."""
        try:
            self._deliveries.settle(record, status=status, status_code=status_code, error=error)
        except ConcurrentChange:
            logger.info("delivery of event %s was taken over by another worker; its outcome stands",
                        record.event_id)

    def _count_not_found(self, subscription: Subscription) -> Subscription:
        """One more 404 in a row; disabled once there are ``disable_after_not_found`` of them."""
        count = subscription.not_found_count + 1
        return replace(subscription, not_found_count=count,
                       enabled=subscription.enabled and count < self._disable_after)

    def _update_subscription(self, subscription: Subscription,
                             change: Callable[[Subscription], Subscription]) -> Subscription | None:
        """Apply ``change`` to the stored subscription; None when it was removed meanwhile."""
        try:
            return self._subscriptions.update(subscription.instance_id, subscription.subscription_id, change)
        except SubscriptionNotFoundError:
            return None

    def _dead_letter(self, message: DeliveryMessage, record: DeliveryRecord, reason: str,
                     code: int | None) -> DeliveryOutcome:
        self._dead_letters.add(DeadLetter(message.instance_id, message.subscription_id, message.event_id, reason,
                                          record.attempts + 1, message.notification, self._clock()))
        self._settle(record, status=DEAD, status_code=code, error=reason)
        logger.warning("dead-lettered event %s for subscription %s: %s", message.event_id,
                       message.subscription_id, reason)
        return DeliveryOutcome(DEAD, code)

    def replay(self, instance_id: str, dead_letter_id: str) -> DeliveryMessage:
        """Send a dead letter again from scratch (re-enabling and re-watching its subscription); raises
        ``DeadLetterNotFoundError``, or ``SubscriptionNotFoundError`` when its subscription is gone."""
        letter = self._dead_letters.get(instance_id, dead_letter_id)
        subscription = self._subscriptions.get(letter.instance_id, letter.subscription_id)
        # watched first, as subscribe does: a poll that saw only disabled subscriptions may have
        # unwatched the instance, and a re-enabled subscription must be polled again
        self._watch.watch(letter.instance_id)
        if not subscription.enabled or subscription.not_found_count:
            self._update_subscription(subscription, lambda s: replace(s, enabled=True, not_found_count=0))
        message = DeliveryMessage(letter.instance_id, letter.subscription_id, letter.event_id, letter.notification)
        self._deliveries.reset(letter.subscription_id, letter.event_id)
        self._queues.send(DELIVERY_QUEUE, message.to_dict())
        self._dead_letters.remove(letter)
        return message
