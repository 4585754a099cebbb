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
from datetime import datetime, timezone
from typing import Callable

from ..storage.deliveries import (DEAD, DELIVERED, DROPPED, RETRYING, DeadLetter, DeadLetterStore,
                                  DeliveryInProgressError, DeliveryRecord, DeliveryStore)
from ..storage.queues import DELIVERY_QUEUE, QueueSender
from ..storage.subscriptions import Subscription, SubscriptionNotFoundError, SubscriptionStore
from ..storage.watch import WatchStore
from .message import DeliveryMessage
from .schedule import RetrySchedule
from .sender import CallbackAnswer, CallbackSender

logger = logging.getLogger(__name__)

TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class DeliveryOutcome:
    """What handling one delivery message did: ``status`` is a delivery status, ``duplicate`` (already
    handled) or ``deferred`` (another worker is sending it; the message comes back later)."""

    status: str
    status_code: int | None = None
    retry_in: float | None = None


class Deliverer:
    """Handles delivery queue messages."""

    def __init__(self, *, subscriptions: SubscriptionStore, deliveries: DeliveryStore, dead_letters: DeadLetterStore,
                 queues: QueueSender, sender: CallbackSender, schedule: RetrySchedule, disable_after_not_found: int,
                 send_timeout: float, watch: WatchStore):
        self._subscriptions = subscriptions
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

    def deliver(self, message: DeliveryMessage) -> DeliveryOutcome:
        try:
            record = self._deliveries.claim(message.subscription_id, message.event_id, message.instance_id,
                                            attempt=message.attempt, stale_after=self._stale_after)
        except DeliveryInProgressError:
            # a duplicate message while another worker sends: look again once that send is over or stale
            self._queues.send(DELIVERY_QUEUE, message.to_json(), delay_seconds=self._stale_after)
            return DeliveryOutcome("deferred", retry_in=self._stale_after)
        if record is None:
            return DeliveryOutcome("duplicate")
        try:
            subscription = self._subscriptions.get(message.instance_id, message.subscription_id)
        except SubscriptionNotFoundError:
            self._deliveries.settle(record, status=DROPPED, error="subscription removed")
            return DeliveryOutcome(DROPPED)
        if not subscription.enabled:
            return self._dead_letter(message, record, "subscription is disabled", None)

        answer = self._sender.post(subscription.callback_url, message.notification, event_id=message.event_id)
        code = answer.status_code
        log_target = f"subscription {subscription.subscription_id} (instance {subscription.instance_id})"
        if code is not None and 200 <= code < 300:
            self._deliveries.settle(record, status=DELIVERED, status_code=code)
            if subscription.not_found_count:
                self._update_subscription(subscription, lambda s: replace(s, not_found_count=0))
            logger.info("delivered event %s to %s", message.event_id, log_target)
            return DeliveryOutcome(DELIVERED, code)
        if code == 410:
            self._subscriptions.delete(subscription.instance_id, subscription.subscription_id)
            self._deliveries.settle(record, status=DROPPED, status_code=code, error="callback answered 410 Gone")
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
        settled = self._deliveries.settle(record, status=RETRYING, status_code=answer.status_code, error=error)
        if settled is None:
            return DeliveryOutcome("duplicate")
        self._queues.send(DELIVERY_QUEUE, replace(message, attempt=settled.attempts).to_json(), delay_seconds=delay)
        logger.info("delivery of event %s to subscription %s failed (%s); attempt %d in %.0fs",
                    message.event_id, message.subscription_id, error, record.attempts + 2, delay)
        return DeliveryOutcome(RETRYING, answer.status_code, delay)

    def _count_not_found(self, subscription: Subscription) -> Subscription:
        """One more 404 in a row; disabled once there are ``disable_after_not_found`` of them."""
        count = subscription.not_found_count + 1
        return replace(subscription, not_found_count=count, enabled=subscription.enabled and count < self._disable_after)

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
                                          record.attempts + 1, message.notification, datetime.now(timezone.utc)))
        self._deliveries.settle(record, status=DEAD, status_code=code, error=reason)
        logger.warning("dead-lettered event %s for subscription %s: %s", message.event_id,
                       message.subscription_id, reason)
        return DeliveryOutcome(DEAD, code)

    def replay(self, instance_id: str, dead_letter_id: str) -> DeliveryMessage:
        """Send a dead letter again from scratch (re-enabling and re-watching its subscription); raises ``LookupError``."""
        letter = self._dead_letters.get(instance_id, dead_letter_id)
        try:
            subscription = self._subscriptions.get(letter.instance_id, letter.subscription_id)
        except SubscriptionNotFoundError:
            raise LookupError(f"subscription {letter.subscription_id} no longer exists") from None
        # watched first, as subscribe does: a poll that saw only disabled subscriptions may have
        # unwatched the instance, and a re-enabled subscription must be polled again
        self._watch.watch(letter.instance_id)
        if not subscription.enabled or subscription.not_found_count:
            self._update_subscription(subscription, lambda s: replace(s, enabled=True, not_found_count=0))
        message = DeliveryMessage(letter.instance_id, letter.subscription_id, letter.event_id, letter.notification)
        self._deliveries.reset(letter.subscription_id, letter.event_id)
        self._queues.send(DELIVERY_QUEUE, message.to_json())
        self._dead_letters.remove(letter)
        return message
