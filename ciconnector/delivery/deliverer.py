"""Delivering one notification: send, then record a failure, retry later, disable or dead-letter.

Outcomes of a POST to the callback URL:

* 2xx: delivered. Nothing more is written: the claim already says ``sent`` (only a subscription
  whose 404 count was not zero has it reset).
* 410 Gone: the flow is gone; the subscription is removed.
* 404: counted on the subscription; after ``disable_after_not_found`` in a row it is disabled and
  the notification dead-lettered; before that it is retried like a transient failure.
* 408, 425, 429, 5xx, timeouts, connection errors: retried on the :class:`RetrySchedule` (re-enqueued
  with a visibility delay, ``Retry-After`` honoured), then dead-lettered.
* any other status (400, 401, 403, 413, 3xx, …): the flow refused the notification; dead-lettered
  at once, as retrying cannot help. An admin can replay dead letters.

Cost: a new event's message from the poller carries the callback URL, so the happy path is one
Table round trip (the claim, which creates the record) and the POST. Messages without it (test
notifications, replays, older messages) and retries read the subscription first.

One attempt at a time, even for a receiver slower than the send timeout: the claim names the one
queue message that may send the current attempt (status ``sent``, its ``MessageId``), and the
record changes hands only from ``retrying`` to that attempt's retry message. Any other message for
the same (subscription, event) (a poll repeated after a crash, a fan-out redone, a retry racing
another copy) finds someone else's ``sent`` or another attempt number and is dropped without a
POST. That is safe because the message holding the claim always ends its attempt: it succeeds
(``sent`` stands), records a failure and queues the next attempt, or dies; then Queue Storage makes
that same message visible again once its worker stopped extending its visibility, and it sends
again under the same claim. While a worker runs, the Functions host keeps its message invisible, so
no second copy of the attempt runs beside it; the only repeat is that redelivery after a crash (the
at-least-once window receivers dedupe by ``webhook-id``, the event id).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Callable, Mapping, Protocol

from ..errors import ConcurrentChange, StorageUnavailable
from ..storage.deliveries import (
    DEAD,
    DELIVERED,
    DROPPED,
    RETRYING,
    DeadLetter,
    DeliveryRecord,
    EventSummary,
    RetryNotQueued,
)
from ..storage.queues import DELIVERY_QUEUE
from ..storage.subscriptions import Subscription, SubscriptionNotFoundError
from ..timeutil import utc_now
from ..webhooks.subscribing import Watching
from .message import DeliveryMessage, FanoutMessage, MessageQueue
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

    def claim(self, subscription_id: str, event_id: str, instance_id: str, *, attempt: int, message_id: str,
              about: EventSummary | None = None) -> DeliveryRecord: ...
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
    """What handling one delivery message did: ``status`` is a delivery status (``delivered`` for a
    2xx, though the record keeps saying ``sent``) or ``duplicate`` (another message has or had this
    attempt: nothing was sent)."""

    status: str
    status_code: int | None = None
    retry_in: float | None = None


class Deliverer:
    """Handles delivery queue messages."""

    def __init__(self, *, subscriptions: DeliverySubscriptions, deliveries: DeliveryRecords,
                 dead_letters: DeadLetters, queues: MessageQueue, sender: Callbacks, schedule: RetrySchedule,
                 disable_after_not_found: int, watch: Watching, clock: Callable[[], datetime] = utc_now):
        self._subscriptions = subscriptions
        self._watch = watch
        self._deliveries = deliveries
        self._dead_letters = dead_letters
        self._queues = queues
        self._sender = sender
        self._schedule = schedule
        self._disable_after = disable_after_not_found
        self._clock = clock

    def fan_out(self, message: FanoutMessage) -> int:
        """Queue the first attempt of every (event, recipient) of a fan-out message; how many.

        A crash midway is harmless: the fan-out message comes back and is fanned out again, and the
        claim drops the copies of deliveries already queued (they have other queue message ids).
        """
        deliveries = message.deliveries()
        for delivery in deliveries:
            self._queues.send(DELIVERY_QUEUE, delivery.to_dict())
        return len(deliveries)

    def deliver(self, message: DeliveryMessage, *, message_id: str) -> DeliveryOutcome:
        """Handle one delivery message, ``message_id`` being its queue message id: send it unless
        another message has this attempt, and record a failure."""
        try:
            record = self._deliveries.claim(message.subscription_id, message.event_id, message.instance_id,
                                            attempt=message.attempt, message_id=message_id,
                                            about=EventSummary.of(message.notification))
        except RetryNotQueued as lost:
            retry = replace(message, attempt=lost.record.attempts, callback_url=None, not_found_count=0)
            self._queues.send(DELIVERY_QUEUE, retry.to_dict())
            logger.info("queued the retry of event %s for subscription %s that a crashed worker had recorded",
                        message.event_id, message.subscription_id)
            return DeliveryOutcome(RETRYING, retry_in=0)
        except ConcurrentChange:
            return DeliveryOutcome("duplicate")
        url, not_found = (message.callback_url, message.not_found_count) if message.attempt == 0 else (None, 0)
        if url is None:
            try:
                subscription = self._subscriptions.get(message.instance_id, message.subscription_id)
            except SubscriptionNotFoundError:
                self._settle(record, status=DROPPED, error="subscription removed")
                return DeliveryOutcome(DROPPED)
            if not subscription.enabled:
                return self._dead_letter(message, record, "subscription is disabled", None)
            url, not_found = subscription.callback_url, subscription.not_found_count

        answer = self._sender.post(url, message.notification, event_id=message.event_id)
        code = answer.status_code
        log_target = f"subscription {message.subscription_id} (instance {message.instance_id})"
        if code is not None and 200 <= code < 300:
            if not_found:
                self._clear_not_found(message)
            logger.info("delivered event %s to %s", message.event_id, log_target)
            return DeliveryOutcome(DELIVERED, code)
        if code == 410:
            self._subscriptions.delete(message.instance_id, message.subscription_id)
            self._watch.touch(message.instance_id)  # the next poll reads the subscriptions again
            self._settle(record, status=DROPPED, status_code=code, error="callback answered 410 Gone")
            logger.info("removed %s: its callback answered 410 Gone", log_target)
            return DeliveryOutcome(DROPPED, code)
        if code == 404:
            updated = self._update_subscription(message, self._count_not_found)
            if updated is not None and not updated.enabled:
                self._watch.touch(message.instance_id)  # the next poll reads the subscriptions again
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
        except ConcurrentChange:  # the record moved on (a replay reset it): its new chain counts
            return DeliveryOutcome("duplicate")
        # retries read the subscription (removed? disabled?), so the callback URL stays out of them
        retry = replace(message, attempt=settled.attempts, callback_url=None, not_found_count=0)
        self._queues.send(DELIVERY_QUEUE, retry.to_dict(), delay_seconds=delay)
        logger.info("delivery of event %s to subscription %s failed (%s); attempt %d in %.0fs",
                    message.event_id, message.subscription_id, error, record.attempts + 2, delay)
        return DeliveryOutcome(RETRYING, answer.status_code, delay)

    def _settle(self, record: DeliveryRecord, *, status: str, status_code: int | None = None,
                error: str | None = None) -> None:
        """Record a final outcome, unless the record moved on meanwhile (then its state stands)."""
        try:
            self._deliveries.settle(record, status=status, status_code=status_code, error=error)
        except ConcurrentChange:
            logger.info("delivery of event %s changed meanwhile; its new state stands", record.event_id)

    def _clear_not_found(self, message: DeliveryMessage) -> None:
        """A 2xx ends a run of 404s. Best effort: failing here would send the delivered notification
        again, a worse outcome than a count left too high (the flow answering 2xx again resets it)."""
        try:
            self._update_subscription(message, lambda s: replace(s, not_found_count=0))
        except (StorageUnavailable, ConcurrentChange) as exc:
            logger.warning("could not reset the 404 count of subscription %s: %s", message.subscription_id,
                           type(exc).__name__)

    def _count_not_found(self, subscription: Subscription) -> Subscription:
        """One more 404 in a row; disabled once there are ``disable_after_not_found`` of them."""
        count = subscription.not_found_count + 1
        return replace(subscription, not_found_count=count,
                       enabled=subscription.enabled and count < self._disable_after)

    def _update_subscription(self, message: DeliveryMessage,
                             change: Callable[[Subscription], Subscription]) -> Subscription | None:
        """Apply ``change`` to the message's stored subscription; None when it was removed meanwhile."""
        try:
            return self._subscriptions.update(message.instance_id, message.subscription_id, change)
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
        if not subscription.enabled or subscription.not_found_count:
            self._subscriptions.update(subscription.instance_id, subscription.subscription_id,
                                       lambda s: replace(s, enabled=True, not_found_count=0))
        # after the change, as subscribe does: the next poll reads the subscriptions again, and an
        # instance a poll stopped watching (it saw only disabled subscriptions) is watched again
        self._watch.watch(letter.instance_id)
        message = DeliveryMessage(letter.instance_id, letter.subscription_id, letter.event_id, letter.notification)
        self._deliveries.reset(letter.subscription_id, letter.event_id)
        self._queues.send(DELIVERY_QUEUE, message.to_dict())
        self._dead_letters.remove(letter)
        return message
