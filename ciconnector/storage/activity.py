"""What the admin console shows about polls and deliveries: each instance's last poll and its CI
calls in the last hour, read from the poller's state in the instance's watch row (``activity``,
committed with every poll: :mod:`ciconnector.webhooks.poll_state`), so polls write nothing here;
and each subscription's last delivery, read from the ``Deliveries`` records
(:meth:`ActivityStore.delivery_summary`), so deliveries write nothing here.

The ``Activity`` table older versions wrote (rows ``poll``, ``calls.NN``, ``sub.<subscription id>``)
is neither read nor written any more.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping

from azure.core.exceptions import ResourceNotFoundError

from ..timeutil import utc
from .tables import DELIVERIES, TableStore
from .watch import InstanceNotWatchedError, WatchStore

logger = logging.getLogger(__name__)

ACTIVITY = "Activity"
"""The table of older versions (no longer used)."""
SUBSCRIPTION_PREFIX = "sub."
BUCKET_MINUTES = 5
BUCKETS = 12
"""Twelve 5-minute buckets: the last hour."""
WINDOW = timedelta(minutes=BUCKET_MINUTES * BUCKETS)
"""CI calls of buckets that started in the last hour are counted."""
_DELIVERY_COLUMNS = ("RowKey", "Status", "UpdatedAt", "LastStatusCode", "LastError", "Trigger", "Subject",
                     "EventOutcome", "IsTest")
"""The columns of a ``Deliveries`` record the console reads (see ``DeliveryRecord.to_entity``)."""


@dataclass(frozen=True)
class PollActivity:
    """An instance's last poll. ``complete_at``: the last poll that read every list and committed
    (CI changes after it are not detected yet)."""

    at: datetime
    fetched: tuple[str, ...]
    failed: tuple[str, ...]
    deliveries: int
    committed: bool
    complete_at: datetime | None
    gaps: tuple[str, ...] = ()
    """Job-history gaps noticed in the last day: outcomes there may be missing (see job_history)."""

    @property
    def ok(self) -> bool:
        return not self.failed and self.committed


@dataclass(frozen=True)
class CallCounts:
    """CI calls of polls (one per list fetched, its retries included) and how many failed."""

    calls: int = 0
    failures: int = 0


@dataclass(frozen=True)
class DeliveryActivity:
    """A subscription's last delivery (its most recently updated ``Deliveries`` record): the event
    and where its delivery stands. ``status`` is a delivery status: ``sent`` (POSTed; delivered
    unless a failure is recorded), ``retrying``, ``dead``, ``dropped`` (or ``delivered``, from
    older versions); ``status_code`` and ``error`` are the last failed attempt's."""

    subscription_id: str
    event_id: str
    trigger: str
    is_test: bool
    subject: str
    outcome: str
    at: datetime
    status_code: int | None
    error: str | None
    status: str = ""


class ActivityStore:
    """Reads the poll activity from the watch rows and the delivery records by subscription."""

    def __init__(self, tables: TableStore, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self._tables = tables
        self._watch = WatchStore(tables)
        self._clock = clock

    def instances(self) -> list[str]:
        """Every instance with a watch row (instances no longer watched included)."""
        return sorted(self._watch.list_watched(include_inactive=True))

    def read(self, instance_id: str) -> tuple[PollActivity | None, CallCounts, dict[str, DeliveryActivity]]:
        """An instance's last poll and CI calls in the last hour, from its watch row (one range
        query; none when it has none); the third item, once the last delivery by subscription id,
        stays empty: see :meth:`delivery_summary`."""
        try:
            state = self._watch.read(instance_id).state
        except InstanceNotWatchedError:
            state = {}
        poll, calls = poll_activity(state, self._clock())
        return poll, calls, {}

    def delivery_summary(self, subscription_id: str) -> tuple[Counter[str], DeliveryActivity | None]:
        """Delivery records of one subscription by status (``sent``, ``retrying``, ``dead``, …) and its
        last delivery (the record updated last): one partition query of the ``Deliveries`` table,
        reading only what the console shows."""
        counts: Counter[str] = Counter()
        last: Mapping[str, Any] | None = None
        try:
            rows = self._tables.table(DELIVERIES).query_entities(
                "PartitionKey eq @pk", parameters={"pk": subscription_id}, select=list(_DELIVERY_COLUMNS))
            for row in rows:
                counts[row["Status"]] += 1
                if row.get("UpdatedAt") and (last is None or row["UpdatedAt"] > last["UpdatedAt"]):
                    last = row
        except ResourceNotFoundError:
            return Counter(), None
        if last is None:
            return counts, None
        return counts, DeliveryActivity(
            subscription_id, last["RowKey"], last.get("Trigger") or "", bool(last.get("IsTest")),
            last.get("Subject") or "", last.get("EventOutcome") or "", last["UpdatedAt"], last.get("LastStatusCode"),
            last.get("LastError") or None, last["Status"])


GAPS_SHOWN_FOR = timedelta(days=1)


def poll_activity(state: Mapping[str, Any], now: datetime) -> tuple[PollActivity | None, CallCounts]:
    """The last poll and the CI calls of buckets started in the hour before ``now``, from a watch
    row's state (``state["activity"]``: ``at``, ``fetched``, ``failed``, ``deliveries``, ``committed``,
    ``completeAt``, ``calls`` = {bucket start: [calls, failures]}); none and zero when it has none,
    and when it is unreadable (logged)."""
    activity = state.get("activity")
    if not isinstance(activity, Mapping) or not activity.get("at"):
        return None, CallCounts()
    try:
        complete = activity.get("completeAt")
        gaps = tuple(f"{gap.get('reason')} (since {gap.get('since') or 'the first poll'})"
                     for gap in (state.get("jobs") or {}).get("gaps") or ()
                     if isinstance(gap, Mapping) and _moment(gap["noticedAt"]) > now - GAPS_SHOWN_FOR)
        poll = PollActivity(_moment(activity["at"]), _names(activity.get("fetched")), _names(activity.get("failed")),
                            int(activity.get("deliveries") or 0), bool(activity.get("committed")),
                            _moment(complete) if complete else None, gaps)
        since = now - WINDOW
        calls = failures = 0
        for start, (count, failed) in dict(activity.get("calls") or {}).items():
            if _moment(start) > since:
                calls += int(count)
                failures += int(failed)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        logger.warning("poll activity is unreadable (%s)", exc)
        return None, CallCounts()
    return poll, CallCounts(calls, failures)


def _moment(text: Any) -> datetime:
    return utc(datetime.fromisoformat(str(text)))


def _names(names: Any) -> tuple[str, ...]:
    return tuple(str(name) for name in names or () if name)

