"""Polling: the timer's plan (one poll per watched instance) and one instance's poll cycle.

A poll cycle of one instance:

1. takes a short lease on the instance's watch row (ETag-conditional), so a concurrent poller skips;
2. loads the instance's subscriptions (one partition query) and fetches only the CI lists their
   trigger kinds need, one call per list however many subscriptions there are;
3. detects events, enqueues one delivery per (event, subscription), and only then commits the
   new state with the lease's ETag. Event ids are deterministic, so a crash between enqueue and
   commit re-emits the same ids next cycle and delivery drops them: nothing is lost or repeated.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Protocol

from ..customer_insights import CustomerInsightsError, DataSource, Job, Measure, Segment, StatusNode
from ..delivery.message import DeliveryMessage, MessageQueue
from ..errors import ConcurrentChange
from ..storage.activity import ActivityRecorder, NoActivity
from ..storage.queues import DELIVERY_QUEUE
from ..storage.subscriptions import Subscription
from ..storage.watch import InstanceNotWatchedError, WatchRecord
from ..timeutil import utc_now
from ..trigger_kinds import Snapshot, detect, resources_for
from .poll_state import PollState

logger = logging.getLogger(__name__)

JOBS_PER_POLL = 25
"""Recent jobs fetched per poll (with their tasks)."""


class PollSource(Protocol):
    """The CI lists a poll reads (``CustomerInsightsClient``; a fake in the functional tests)."""

    def list_data_sources(self, instance_id: str) -> list[DataSource]: ...
    def list_jobs(self, instance_id: str, *, top: int | None = None, include_tasks: bool = False) -> list[Job]: ...
    def list_segments(self, instance_id: str) -> list[Segment]: ...
    def list_measures(self, instance_id: str) -> list[Measure]: ...
    def get_workflow_status(self, instance_id: str) -> list[StatusNode]: ...


class PolledSubscriptions(Protocol):
    """The subscriptions a poll serves (``SubscriptionStore`` or ``MemorySubscriptionStore``)."""

    def list_for_instance(self, instance_id: str) -> list[Subscription]: ...


class WatchRows(Protocol):
    """Watch state with leases (``WatchStore`` or ``MemoryWatchStore``); lost races raise ``ConcurrentChange``."""

    def list_watched(self) -> list[str]: ...
    def load(self, instance_id: str) -> WatchRecord: ...
    def acquire_lease(self, record: WatchRecord, *, seconds: float, now: datetime | None = None) -> WatchRecord: ...
    def renew_lease(self, lease: WatchRecord, *, seconds: float, now: datetime | None = None) -> WatchRecord: ...
    def commit(self, record: WatchRecord, state: str) -> WatchRecord: ...
    def unwatch(self, record: WatchRecord) -> None: ...


@dataclass(frozen=True)
class PollReport:
    """What one poll cycle did."""

    instance_id: str
    skipped: str | None = None
    fetched: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    deliveries: int = 0
    committed: bool = False


class Poller:
    """Plans and runs poll cycles."""

    def __init__(self, *, ci: PollSource, subscriptions: PolledSubscriptions, watch: WatchRows,
                 queues: MessageQueue, lease_seconds: float, clock: Callable[[], datetime] = utc_now,
                 activity: ActivityRecorder = NoActivity()):
        """``lease_seconds`` must exceed twice the worst time of one CI list fetch (retries included):
        the lease is renewed between fetches once half of it is used, and a crashed poller's
        instance waits that long."""
        self._ci = ci
        self._lease_seconds = lease_seconds
        self._subscriptions = subscriptions
        self._watch = watch
        self._queues = queues
        self._clock = clock
        self._activity = activity  # what the admin console shows: last poll, CI calls

    def plan(self) -> list[str]:
        """Poll messages for the timer: one per watched instance."""
        return [json.dumps({"instanceId": instance_id}) for instance_id in self._watch.list_watched()]

    def poll(self, instance_id: str) -> PollReport:
        """Run one poll cycle of ``instance_id``."""
        try:
            lease = self._watch.acquire_lease(self._watch.load(instance_id), seconds=self._lease_seconds,
                                              now=self._clock())
        except InstanceNotWatchedError:
            return PollReport(instance_id, skipped="not watched")
        except ConcurrentChange:
            return PollReport(instance_id, skipped="another poller holds the lease")
        subscriptions = [s for s in self._subscriptions.list_for_instance(instance_id) if s.enabled]
        if not subscriptions:
            try:
                self._watch.unwatch(lease)
            except ConcurrentChange:
                pass  # subscribed meanwhile: the instance stays watched
            return PollReport(instance_id, skipped="no active subscriptions")

        try:
            lease, snapshot, fetched, failed = self._observe(lease, resources_for(subscriptions))
        except ConcurrentChange:
            logger.warning("poll of instance %s lost its lease; another poller took over", instance_id)
            return PollReport(instance_id, skipped="lease lost during the poll")
        state = PollState.from_text(lease.state, instance_id)
        detection = detect(subscriptions, snapshot, state.watch, state.thresholds)
        deliveries = 0
        for subscription_id, events in detection.events.items():
            for event in events:
                message = DeliveryMessage(instance_id, subscription_id, event.event_id, event.to_notification())
                self._queues.send(DELIVERY_QUEUE, message.to_dict())
                deliveries += 1
        new_state = PollState(detection.watch_state, detection.threshold_states)
        try:
            self._watch.commit(lease, new_state.to_text())
            committed = True
        except ConcurrentChange:
            logger.warning("watch state of instance %s changed during the poll; its events are deduplicated "
                           "at delivery", instance_id)
            committed = False
        report = PollReport(instance_id, fetched=fetched, failed=failed, deliveries=deliveries, committed=committed)
        self._activity.poll_finished(report)
        return report

    def _observe(self, lease: WatchRecord, resources: frozenset[str]
                 ) -> tuple[WatchRecord, Snapshot, tuple[str, ...], tuple[str, ...]]:
        """Fetch each needed CI list once, renewing the lease once half of it is used up (slow or
        retried CI calls); a failed fetch leaves its list None (no events, state kept). Raises
        ``ConcurrentChange`` when the lease was lost."""
        instance_id = lease.instance_id
        fetchers: dict[str, Callable[[], list]] = {
            "dataSources": lambda: self._ci.list_data_sources(instance_id),
            "jobs": lambda: self._ci.list_jobs(instance_id, top=JOBS_PER_POLL, include_tasks=True),
            "segments": lambda: self._ci.list_segments(instance_id),
            "measures": lambda: self._ci.list_measures(instance_id),
            "status": lambda: self._ci.get_workflow_status(instance_id),
        }
        lists: dict[str, list | None] = {}
        fetched: list[str] = []
        failed: list[str] = []
        for resource in sorted(resources):
            try:
                lists[resource] = fetchers[resource]()
                fetched.append(resource)
            except CustomerInsightsError as exc:
                lists[resource] = None
                failed.append(resource)
                logger.warning("poll of instance %s could not fetch %s: %s", instance_id, resource,
                               type(exc).__name__)
            now = self._clock()
            if lease.lease_until is not None and (lease.lease_until - now).total_seconds() < self._lease_seconds / 2:
                lease = self._watch.renew_lease(lease, seconds=self._lease_seconds, now=now)
        snapshot = Snapshot(instance_id, self._clock(), data_sources=lists.get("dataSources"),
                            jobs=lists.get("jobs"), segments=lists.get("segments"), measures=lists.get("measures"),
                            status=lists.get("status"))
        return lease, snapshot, tuple(fetched), tuple(failed)
