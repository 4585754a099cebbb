"""The admin console's read model: one overview built from the stores, which both the JSON endpoint
and the HTML view show, so every number on the page is the number the admin API answers.

Per instance: its last poll and result, CI calls and failures of polls in the last hour, the
detection lag (time since the last poll that read every list and committed: CI changes after it
are not detected yet), subscriptions by trigger kind, dead letters, and the problems that make it
worth a look. Instances with problems come first. The console never calls CI: opening it costs no
CI call budget.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Protocol

from ..storage.activity import CallCounts, DeliveryActivity, PollActivity
from ..storage.deliveries import DEAD, DELIVERED, RETRYING, SENT, DeadLetter
from ..storage.subscriptions import Subscription
from ..webhooks.subscribing import describe

STALE_AFTER = timedelta(minutes=5)
"""An instance with enabled subscriptions not polled for this long is a problem (the timer runs every minute)."""


class InstanceSubscriptions(Protocol):
    """Subscriptions of an instance (``SubscriptionStore`` or ``MemorySubscriptionStore``)."""

    def list_for_instance(self, instance_id: str) -> list[Subscription]: ...


class WatchedInstances(Protocol):
    """The watched instances (``WatchStore`` or ``MemoryWatchStore``)."""

    def list_watched(self) -> list[str]: ...


class InstanceDeadLetters(Protocol):
    """Dead letters of an instance (``DeadLetterStore`` or ``MemoryDeadLetterStore``)."""

    def list_for_instance(self, instance_id: str) -> list[DeadLetter]: ...


class ActivityReader(Protocol):
    """Recorded polls and deliveries (``ActivityStore``)."""

    def instances(self) -> list[str]: ...
    def read(self, instance_id: str) -> tuple[PollActivity | None, CallCounts, dict[str, DeliveryActivity]]: ...
    def delivery_summary(self, subscription_id: str) -> tuple[Counter[str], DeliveryActivity | None]: ...


class NoActivityRecorded:
    """The activity of in-memory stores, where nothing is recorded: no polls, calls or deliveries."""

    def instances(self) -> list[str]:
        return []

    def read(self, instance_id: str) -> tuple[PollActivity | None, CallCounts, dict[str, DeliveryActivity]]:
        return None, CallCounts(), {}

    def delivery_summary(self, subscription_id: str) -> tuple[Counter[str], DeliveryActivity | None]:
        return Counter(), None


@dataclass(frozen=True)
class ConnectorLink:
    """Where Power Automate imports the connector definition from, and what the connection needs."""

    definition_url: str
    host: str
    base_path: str

    def to_dict(self) -> dict[str, Any]:
        return {"definitionUrl": self.definition_url, "host": self.host, "basePath": self.base_path,
                "apiKeyHeader": "x-functions-key"}


@dataclass(frozen=True)
class SubscriptionView:
    """One subscription as admins see it (callback URL redacted)."""

    subscription: Subscription
    last_delivery: DeliveryActivity | None
    counts: Counter[str]
    disabled_reason: str | None

    @property
    def failing(self) -> bool:
        """Whether the last delivery failed (being retried, or given up on)."""
        last = self.last_delivery
        return last is not None and last.status in (RETRYING, DEAD)

    def to_dict(self) -> dict[str, Any]:
        """``delivered`` counts ``sent`` records (a 2xx writes nothing after the claim, so a send in
        progress is among them) and ``delivered`` ones of older versions."""
        return {**describe(self.subscription), "disabledReason": self.disabled_reason,
                "lastDelivery": _delivery_json(self.last_delivery),
                "delivered": self.counts[SENT] + self.counts[DELIVERED], "retrying": self.counts[RETRYING],
                "deadLettered": self.counts[DEAD]}


@dataclass(frozen=True)
class InstanceView:
    """One instance: its polling, CI calls, subscriptions and dead letters, and its problems."""

    instance_id: str
    watched: bool
    last_poll: PollActivity | None
    calls: CallCounts
    detection_lag: timedelta | None
    subscriptions: tuple[SubscriptionView, ...]
    dead_letters: tuple[DeadLetter, ...]
    problems: tuple[str, ...]

    @property
    def by_kind(self) -> dict[str, int]:
        return dict(sorted(Counter(s.subscription.trigger_kind for s in self.subscriptions).items()))

    @property
    def latest_event(self) -> DeliveryActivity | None:
        """The most recent real (not test) notification sent to any of its subscriptions."""
        sent = [s.last_delivery for s in self.subscriptions if s.last_delivery and not s.last_delivery.is_test]
        return max(sent, key=lambda d: d.at, default=None)

    def to_dict(self) -> dict[str, Any]:
        poll = self.last_poll
        return {
            "instanceId": self.instance_id, "watched": self.watched, "problems": list(self.problems),
            "lastPoll": None if poll is None else {
                "at": poll.at.isoformat(), "ok": poll.ok, "fetched": list(poll.fetched), "failed": list(poll.failed),
                "deliveries": poll.deliveries, "committed": poll.committed,
                "completeAt": poll.complete_at.isoformat() if poll.complete_at else None},
            "ciCallsLastHour": self.calls.calls, "ciFailuresLastHour": self.calls.failures,
            "detectionLagSeconds": None if self.detection_lag is None else round(self.detection_lag.total_seconds()),
            "subscriptionsByKind": self.by_kind, "latestEvent": _delivery_json(self.latest_event),
            "subscriptions": [s.to_dict() for s in self.subscriptions],
            "deadLetters": [{**d.to_dict(), "lastError": d.reason} for d in self.dead_letters],
        }


@dataclass(frozen=True)
class Overview:
    """Everything the console shows, instances with problems first."""

    generated_at: datetime
    instances: tuple[InstanceView, ...]
    connector: ConnectorLink

    def to_dict(self) -> dict[str, Any]:
        return {"generatedAt": self.generated_at.isoformat(), "connector": self.connector.to_dict(),
                "instances": [i.to_dict() for i in self.instances]}


class ConsoleReader:
    """Builds the :class:`Overview` from the stores (a few partition queries per instance)."""

    def __init__(self, *, subscriptions: InstanceSubscriptions, watch: WatchedInstances,
                 dead_letters: InstanceDeadLetters, activity: ActivityReader | None,
                 instance_allowlist: Iterable[str] = (), disable_after_not_found: int = 3,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        """``activity`` is None with in-memory stores, which record none: the overview then shows no
        polls, CI calls or deliveries."""
        self._subscriptions = subscriptions
        self._watch = watch
        self._dead_letters = dead_letters
        self._activity: ActivityReader = activity if activity is not None else NoActivityRecorded()
        self._allowlist = tuple(i.lower() for i in instance_allowlist)
        self._disable_after = disable_after_not_found
        self._clock = clock

    def overview(self, connector: ConnectorLink) -> Overview:
        now = self._clock()
        watched = set(self._watch.list_watched())
        ids = sorted(watched | set(self._activity.instances()) | set(self._allowlist))
        views = [self._instance(instance_id, instance_id in watched, now) for instance_id in ids]
        views.sort(key=lambda v: (not v.problems, v.instance_id))
        return Overview(now, tuple(views), connector)

    def _instance(self, instance_id: str, watched: bool, now: datetime) -> InstanceView:
        poll, calls, _ = self._activity.read(instance_id)
        subscriptions = tuple(
            SubscriptionView(s, last, counts, None if s.enabled else self._disabled_reason(s))
            for s in sorted(self._subscriptions.list_for_instance(instance_id), key=lambda s: s.created_at)
            for counts, last in [self._activity.delivery_summary(s.subscription_id)])
        letters = tuple(sorted(self._dead_letters.list_for_instance(instance_id), key=lambda d: d.dead_at,
                               reverse=True))
        lag = now - poll.complete_at if poll and poll.complete_at else None
        return InstanceView(instance_id, watched, poll, calls, lag, subscriptions, letters,
                            _problems(watched, poll, calls, subscriptions, letters, now))

    def _disabled_reason(self, subscription: Subscription) -> str:
        if subscription.not_found_count >= self._disable_after:
            return f"its callback answered 404 {subscription.not_found_count} times in a row (flow deleted or off?)"
        return "disabled"


def _problems(watched: bool, poll: PollActivity | None, calls: CallCounts, subscriptions: tuple[SubscriptionView, ...],
              letters: tuple[DeadLetter, ...], now: datetime) -> tuple[str, ...]:
    """What an admin should look at, most urgent first."""
    problems = []
    enabled = [s for s in subscriptions if s.subscription.enabled]
    if enabled and not watched:
        problems.append("not watched: its enabled subscriptions are not polled")
    elif enabled and poll is None:
        problems.append("never polled")
    elif enabled and poll is not None and now - poll.at > STALE_AFTER:
        problems.append(f"not polled for {int((now - poll.at).total_seconds() // 60)} min")
    if poll is not None and poll.failed:
        problems.append(f"last poll could not read {', '.join(poll.failed)} from CI")
    elif poll is not None and not poll.committed:
        problems.append("last poll could not save its state")
    if calls.failures:
        problems.append(f"{calls.failures} of {calls.calls} CI calls failed in the last hour")
    for gap in poll.gaps if poll is not None else ():
        problems.append(f"job history gap, outcomes may be missing: {gap}")
    if letters:
        problems.append(f"{len(letters)} dead letter{'s' if len(letters) != 1 else ''}")
    disabled = sum(1 for s in subscriptions if not s.subscription.enabled)
    if disabled:
        problems.append(f"{disabled} subscription{'s' if disabled != 1 else ''} disabled")
    failing = sum(1 for s in enabled if s.failing)
    if failing:
        problems.append(f"{failing} callback{'s' if failing != 1 else ''} failing")
    return tuple(problems)


def _delivery_json(delivery: DeliveryActivity | None) -> dict[str, Any] | None:
    if delivery is None:
        return None
    return {"eventId": delivery.event_id, "trigger": delivery.trigger, "isTest": delivery.is_test,
            "subject": delivery.subject, "outcome": delivery.outcome, "at": delivery.at.isoformat(),
            "status": delivery.status, "statusCode": delivery.status_code, "error": delivery.error}
