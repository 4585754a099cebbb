"""Polling: the timer's plan (one poll per watched instance) and one instance's poll cycle.

**What a poll cycle guarantees.** Every outcome CI's job history shows, and every threshold
crossing, reaches each subscription it is news for exactly once by event id: the state that says
"reported" and the pending notifications are committed together (a transactional outbox), so a
poll that crashes or loses a race either committed both or neither.

One cycle of one instance:

1. reads the instance's watch partition (one range query: the watch row, the subscription
   generation and any outbox rows a crashed poll left) and dispatches those leftovers first;
2. reads the subscriptions (one partition query) only when their generation changed since the last
   read, or when something happened (a new outcome, a changed threshold subject);
3. fetches only the CI lists the subscriptions' kinds need, once each: the job history read back to
   the durable cursor (:mod:`ciconnector.trigger_kinds.job_history`), segments, measures; the data
   source list only when a refresh outcome must be matched to its data source by name;
4. detects events; threshold states live in 64 shard rows per instance, read only when a watched
   value changed and written only where a subscription's state changed;
5. commits, in entity-group transactions fenced by the watch row's ETag, the new states together
   with outbox rows holding the notifications and their recipients; then sends them to the
   delivery queue as fan-out messages and deletes the outbox rows. A crash after the commit leaves
   the outbox rows for the next poll; a duplicate send is dropped at delivery (by event id).

**Concurrency.** Correctness rests on the ETag fence, not on a lease: two polls of one instance may
both read CI, but only one commits. A lease only saves CI calls: a poll still running after half a
poll interval takes one (``lease_seconds``, renewed while it runs), and other polls skip the
instance until it ends. A crashed poll therefore delays its instance by at most ``lease_seconds``
after its last renewal, and not at all when it crashed before taking one. Every exit path releases
the lease (the commit does, or :meth:`WatchRows.release` on an error).

**Cost when nothing happens**: one range query and one merged write of the watch row (2 Table
transactions), plus the CI calls.
"""
from __future__ import annotations

import itertools
import json
import logging
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol, Sequence

from ..customer_insights import CustomerInsightsError, DataSource, Job, Measure, Segment
from ..delivery.message import MessageQueue, pack_fanout
from ..errors import ConcurrentChange
from ..storage.queues import DELIVERY_QUEUE
from ..storage.subscriptions import Subscription
from ..storage.watch import CommitGroup, InstanceNotWatchedError, OutboxEntry, WatchView, threshold_shard
from ..timeutil import utc_now
from ..trigger_kinds import Snapshot, ThresholdState, detect, resources_for, subject_key, subject_values
from ..trigger_kinds.detection import refreshes_needing_names
from ..trigger_kinds.events import Event
from ..trigger_kinds.job_history import advance, read_back, start_floor
from ..trigger_kinds.observations import Changes, identify, observe_outcomes
from .poll_state import PollState

logger = logging.getLogger(__name__)

OUTBOX_ENTRY_BYTES = 400_000
"""Largest outbox entry the poller writes (Table's entity limit is 1 MiB, stored as UTF-16)."""


class PollSource(Protocol):
    """The CI lists a poll reads (``CustomerInsightsClient``; a fake in the functional tests)."""

    def list_data_sources(self, instance_id: str) -> list[DataSource]: ...
    def list_jobs(self, instance_id: str, *, top: int | None = None, include_tasks: bool = False) -> list[Job]: ...
    def list_segments(self, instance_id: str) -> list[Segment]: ...
    def list_measures(self, instance_id: str) -> list[Measure]: ...


class PolledSubscriptions(Protocol):
    """The subscriptions a poll serves (``SubscriptionStore`` or ``MemorySubscriptionStore``)."""

    def list_for_instance(self, instance_id: str) -> list[Subscription]: ...


class WatchRows(Protocol):
    """An instance's watch partition (``WatchStore`` or ``MemoryWatchStore``); lost races raise ``ConcurrentChange``."""

    def list_watched(self) -> list[str]: ...
    def read(self, instance_id: str) -> WatchView: ...
    def take_lease(self, view: WatchView, *, seconds: float, now: datetime) -> WatchView: ...
    def thresholds(self, instance_id: str) -> dict[str, ThresholdState]: ...
    def commit(self, view: WatchView, *, state: Mapping[str, Any], polled_at: datetime,
               groups: Sequence[CommitGroup] = ()) -> WatchView: ...
    def release(self, view: WatchView, *, polled_at: datetime | None = None) -> None: ...
    def dispatched(self, instance_id: str, keys: Sequence[str]) -> None: ...
    def deactivate(self, view: WatchView) -> None: ...


@dataclass(frozen=True)
class PollReport:
    """What one poll cycle did."""

    instance_id: str
    skipped: str | None = None
    fetched: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    deliveries: int = 0
    committed: bool = False
    subscriptions_read: bool = False


class _LeaseLost(Exception):
    """The poll's lease or view went stale while it ran: another poller owns the instance now."""


@dataclass
class _Cycle:
    """One running poll: its view of the watch row, CI calls so far, and the lease."""

    view: WatchView
    started: float
    fetched: list[str]
    failed: list[str]
    calls: int = 0
    failures: int = 0


class Poller:
    """Plans and runs poll cycles."""

    def __init__(self, *, ci: PollSource, subscriptions: PolledSubscriptions, watch: WatchRows,
                 queues: MessageQueue, lease_seconds: float, clock: Callable[[], datetime] = utc_now,
                 monotonic: Callable[[], float] = time.monotonic):
        """``lease_seconds``: how long a slow poll holds its instance (taken once half of it has
        passed, renewed while the poll runs); about one and a half poll intervals, so a crashed
        poller delays its instance by at most about two."""
        self._ci = ci
        self._lease_seconds = lease_seconds
        self._subscriptions = subscriptions
        self._watch = watch
        self._queues = queues
        self._clock = clock
        self._monotonic = monotonic

    def plan(self) -> list[str]:
        """Poll messages for the timer: one per watched instance."""
        return [json.dumps({"instanceId": instance_id}) for instance_id in self._watch.list_watched()]

    def poll(self, instance_id: str) -> PollReport:
        """Run one poll cycle of ``instance_id``."""
        try:
            view = self._watch.read(instance_id)
        except InstanceNotWatchedError:
            return PollReport(instance_id, skipped="not watched")
        if not view.active:
            return PollReport(instance_id, skipped="not watched")
        now = self._clock()
        if view.lease_until is not None and view.lease_until > now:
            return PollReport(instance_id, skipped="another poller holds the lease")
        if view.outbox:
            self._dispatch(instance_id, view.outbox)
        cycle = _Cycle(view, self._monotonic(), [], [])
        try:
            return self._run(cycle, PollState.from_dict(view.state, instance_id))
        except _LeaseLost:
            logger.warning("poll of instance %s lost its lease; another poller took over", instance_id)
            return PollReport(instance_id, skipped="lease lost during the poll", fetched=tuple(cycle.fetched),
                              failed=tuple(cycle.failed))
        except BaseException:
            if cycle.view.lease_until is not None:  # release on every exit path
                try:
                    self._watch.release(cycle.view)
                except Exception:  # noqa: BLE001 - the poll's own error is the one to raise
                    logger.warning("could not release the lease of instance %s; it expires by itself", instance_id)
            raise

    def _run(self, cycle: _Cycle, state: PollState) -> PollReport:
        instance_id = cycle.view.instance_id
        subscriptions: list[Subscription] | None = None
        if state.generation != cycle.view.generation or not state.generation:
            subscriptions = self._active_subscriptions(instance_id)
            if not subscriptions:
                return self._deactivate(cycle)
            state = _learn(state, subscriptions, cycle.view.generation)

        # what CI shows
        jobs_read = None
        if "jobs" in state.resources:
            floor = start_floor(state.jobs, ())
            if floor is None:
                if subscriptions is None:
                    subscriptions = self._active_subscriptions(instance_id)
                floor = start_floor(state.jobs, (s.created_at for s in subscriptions))
            if floor is not None:
                jobs_read = self._fetch(cycle, "jobs", lambda: read_back(
                    lambda top: self._ci.list_jobs(instance_id, top=top, include_tasks=True), state.jobs, floor,
                    now=self._clock()))
        segments = self._fetch(cycle, "segments", lambda: self._ci.list_segments(instance_id)) \
            if "segments" in state.resources else None
        measures = self._fetch(cycle, "measures", lambda: self._ci.list_measures(instance_id)) \
            if "measures" in state.resources else None
        snapshot = Snapshot(instance_id, self._clock(), jobs=jobs_read.jobs if jobs_read else None,
                            segments=segments, measures=measures)

        changes, keys = observe_outcomes(jobs_read.jobs, state.jobs.reported) if jobs_read else (Changes(), [])
        if changes and subscriptions is None:
            subscriptions = self._active_subscriptions(instance_id)
        if refreshes_needing_names(changes, subscriptions or ()):
            data_sources = self._fetch(cycle, "dataSources", lambda: self._ci.list_data_sources(instance_id))
            if data_sources is None:  # cannot tell which data sources: report them next poll
                jobs_read, changes, keys = None, Changes(), []
            else:
                changes = identify(changes, data_sources)
        values = subject_values(snapshot, state.subjects.keys() | _subject_keys(subscriptions))
        subjects_moved = any(state.subjects.get(k) != v for k, v in values.items())

        groups: list[CommitGroup] = []
        deliveries = 0
        if changes or subjects_moved or subscriptions is not None:
            if subscriptions is None:
                subscriptions = self._active_subscriptions(instance_id)
            groups, deliveries = self._detect(instance_id, subscriptions, snapshot, changes, subjects_moved)

        new_state = replace(state, subjects={**state.subjects, **values})
        if jobs_read is not None:
            new_state = replace(new_state, jobs=advance(state.jobs, jobs_read, keys, now=self._clock()))
        new_state = new_state.with_activity(now=self._clock(), fetched=cycle.fetched, failed=cycle.failed,
                                            deliveries=deliveries, calls=cycle.calls, failures=cycle.failures)
        try:
            self._watch.commit(cycle.view, state=new_state.to_dict(), polled_at=self._clock(), groups=groups)
        except ConcurrentChange:
            logger.warning("watch state of instance %s changed during the poll; this poll's results are dropped "
                           "(the next poll detects them again)", instance_id)
            return PollReport(instance_id, fetched=tuple(cycle.fetched), failed=tuple(cycle.failed),
                              subscriptions_read=subscriptions is not None)
        self._dispatch(instance_id, [entry for group in groups for entry in group.outbox])
        return PollReport(instance_id, fetched=tuple(cycle.fetched), failed=tuple(cycle.failed),
                          deliveries=deliveries, committed=True, subscriptions_read=subscriptions is not None)

    def _detect(self, instance_id: str, subscriptions: list[Subscription], snapshot: Snapshot, changes: Changes,
                subjects_moved: bool) -> tuple[list[CommitGroup], int]:
        """Events and new threshold states, as commit groups (each threshold shard's new content in the
        same group as its subscriptions' events; outcome events in groups of their own)."""
        thresholds = [s for s in subscriptions if subject_key(s) is not None]
        stored = self._watch.thresholds(instance_id) if thresholds else {}
        detection = detect(subscriptions, snapshot, changes, stored)
        by_id = {s.subscription_id: s for s in subscriptions}
        keys = (f"{uuid.uuid4().hex[:12]}-{n:05d}" for n in itertools.count())
        groups: list[CommitGroup] = []
        deliveries = 0

        # threshold states by shard: a shard whose subscriptions' states changed (or one of them went)
        # is rewritten whole, in the same group as its subscriptions' events
        live = {s.subscription_id for s in thresholds}
        states = {**{sid: st for sid, st in stored.items() if sid in live}, **detection.threshold_states}
        touched = {threshold_shard(sid) for sid, st in detection.threshold_states.items() if stored.get(sid) != st}
        touched |= {threshold_shard(sid) for sid in stored if sid not in live}
        by_shard: dict[str, dict[str, ThresholdState]] = {shard: {} for shard in touched}
        for sid, st in states.items():
            if (shard := threshold_shard(sid)) in by_shard:
                by_shard[shard][sid] = st
        for shard, content in sorted(by_shard.items()):
            crossings = [(event, [by_id[sid]]) for sid in sorted(content) for event in detection.events.get(sid, ())]
            deliveries += len(crossings)
            groups.append(CommitGroup(threshold_shards={shard: content},
                                      outbox=tuple(_outbox_entries(keys, crossings))))

        recipients: dict[str, tuple[Event, list[Subscription]]] = {}
        for sid, events in detection.events.items():
            if sid in detection.threshold_states:
                continue
            for event in events:
                recipients.setdefault(event.event_id, (event, []))[1].append(by_id[sid])
        outcome_events = list(recipients.values())
        deliveries += sum(len(r) for _, r in outcome_events)
        for entry in _outbox_entries(keys, outcome_events):
            groups.append(CommitGroup(outbox=(entry,)))

        return groups, deliveries

    def _dispatch(self, instance_id: str, entries: Iterable[OutboxEntry]) -> None:
        """Send outbox entries to the delivery queue, then delete them (a crash between the two sends
        them again next poll; delivery drops the duplicates)."""
        entries = list(entries)
        if not entries:
            return
        for entry in entries:
            for message in pack_fanout(instance_id, [(e[0], e[1], [tuple(r) for r in e[2]]) for e in entry.items]):
                self._queues.send(DELIVERY_QUEUE, message)
        self._watch.dispatched(instance_id, [entry.key for entry in entries])

    def _fetch(self, cycle: _Cycle, name: str, call: Callable[[], Any]) -> Any:
        """One CI list (or read-back), counted; None when CI failed. Takes or renews the lease when the
        poll has run for half of it."""
        try:
            result = call()
            cycle.fetched.append(name)
            cycle.calls += getattr(result, "calls", 1)
        except CustomerInsightsError as exc:
            result = None
            cycle.failed.append(name)
            cycle.calls += 1
            cycle.failures += 1
            logger.warning("poll of instance %s could not fetch %s: %s", cycle.view.instance_id, name,
                           type(exc).__name__)
        self._keep_lease(cycle)
        return result

    def _keep_lease(self, cycle: _Cycle) -> None:
        elapsed = self._monotonic() - cycle.started
        if elapsed < self._lease_seconds / 2:
            return
        now = self._clock()
        lease = cycle.view.lease_until
        if lease is not None and (lease - now).total_seconds() > self._lease_seconds / 2:
            return
        try:
            cycle.view = self._watch.take_lease(cycle.view, seconds=self._lease_seconds, now=now)
        except ConcurrentChange:
            raise _LeaseLost() from None

    def _active_subscriptions(self, instance_id: str) -> list[Subscription]:
        return [s for s in self._subscriptions.list_for_instance(instance_id) if s.enabled]

    def _deactivate(self, cycle: _Cycle) -> PollReport:
        try:
            self._watch.deactivate(cycle.view)
        except ConcurrentChange:
            pass  # subscribed meanwhile: the instance stays watched
        return PollReport(cycle.view.instance_id, skipped="no active subscriptions", subscriptions_read=True)


def _learn(state: PollState, subscriptions: Sequence[Subscription], generation: str) -> PollState:
    """What the poll keeps from reading the subscriptions (so idle polls need not read them)."""
    keys = _subject_keys(subscriptions)
    return replace(state, generation=generation, resources=tuple(sorted(resources_for(subscriptions))),
                   subjects={k: v for k, v in state.subjects.items() if k in keys})


def _subject_keys(subscriptions: Sequence[Subscription] | None) -> set[str]:
    return {key for s in subscriptions or () if (key := subject_key(s)) is not None}


def _outbox_entries(keys: Iterator[str], events: Sequence[tuple[Event, Sequence[Subscription]]]
                    ) -> list[OutboxEntry]:
    """Outbox entries of at most :data:`OUTBOX_ENTRY_BYTES` holding ``[eventId, notification, recipients]``
    items (a recipient: ``[subscriptionId, callbackUrl, notFoundCount]``); a big event's recipients are
    spread over several entries."""
    entries: list[OutboxEntry] = []
    items: list[list[Any]] = []
    size = 0

    def flush() -> None:
        nonlocal items, size
        if items:
            entries.append(OutboxEntry(next(keys), items))
            items, size = [], 0

    for event, subs in events:
        notification = event.to_notification()
        base = len(json.dumps(notification)) + 64
        recipients: list[list[Any]] = []
        for sub in subs:
            recipient = [sub.subscription_id, sub.callback_url, sub.not_found_count]
            cost = len(sub.callback_url) + 64
            if size + base + cost > OUTBOX_ENTRY_BYTES and (recipients or items):
                if recipients:
                    items.append([event.event_id, notification, recipients])
                flush()
                recipients = []
            if not recipients:
                size += base
            recipients.append(recipient)
            size += cost
        if recipients:
            items.append([event.event_id, notification, recipients])
    flush()
    return entries
