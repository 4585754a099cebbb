"""Detection: one poll of one instance → the events each subscription must receive.

:func:`detect` is pure: the same subscriptions, snapshot and states always give the same events
(with the same ids) and the same new states, so a poll that is retried after a crash before its
states were saved re-emits identical events that delivery drops as duplicates. The caller saves
the returned states together with the events (one transaction per group: the outbox).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from .catalog import CATALOG
from .events import Event, Number, utc
from .observations import Changes, PollResource, Snapshot
from .parameters import DATA_SOURCE_ID
from .rules import DataSourceRefreshRule, ThresholdRule, WatchedSubscription
from .thresholds import ThresholdState


@dataclass(frozen=True)
class Detection:
    """The result of one poll.

    Attributes:
        events: events per subscription id (only subscriptions with events appear).
        threshold_states: the new state of every threshold subscription evaluated.
    """

    events: dict[str, list[Event]] = field(default_factory=dict)
    threshold_states: dict[str, ThresholdState] = field(default_factory=dict)


def resources_for(subscriptions: Iterable[WatchedSubscription]) -> frozenset[PollResource]:
    """The CI lists one poll must fetch to serve ``subscriptions``."""
    return frozenset().union(*(CATALOG[s.trigger_kind].resources for s in subscriptions))


def subject_key(subscription: WatchedSubscription) -> str | None:
    """``segment:<name>`` / ``measure:<name>`` for a threshold subscription, else None."""
    kind = CATALOG.get(subscription.trigger_kind)
    if kind is None or not isinstance(kind.rule, ThresholdRule):
        return None
    return f"{kind.rule.subject}:{subscription.parameters[kind.rule.parameter]}"


def subject_values(snapshot: Snapshot, keys: Iterable[str]) -> dict[str, Number]:
    """The current value of each subject key that ``snapshot`` observes (missing ones left out)."""
    values: dict[str, Number] = {}
    for key in keys:
        subject, _, name = key.partition(":")
        if subject in ("segment", "measure"):
            observation = ThresholdRule(subject).observe(snapshot, name)  # type: ignore[arg-type]
            if observation is not None:
                values[key] = observation.value
    return values


def refreshes_needing_names(changes: Changes, subscriptions: Sequence[WatchedSubscription]) -> Changes:
    """The refresh outcomes worth reading the data source list for: those some data source
    subscription may receive (completed after the oldest one was created) whose data source the job
    does not name by id (a full refresh's tasks), or whose name a subscription filtering by name
    needs. With only "any data source" subscriptions and ingestion jobs, none: a failing data
    source list then delays nothing."""
    ds_subs = [s for s in subscriptions
               if s.trigger_kind in CATALOG and isinstance(CATALOG[s.trigger_kind].rule, DataSourceRefreshRule)]
    if not ds_subs:
        return Changes()
    oldest = min(utc(s.created_at) for s in ds_subs)
    by_name = any(s.parameters.get(DATA_SOURCE_ID) and not _GUID.match(str(s.parameters[DATA_SOURCE_ID]))
                  for s in ds_subs)
    dated = ((r, r.completed_at or r.job.submitted_at) for r in changes.refreshes)
    return Changes(refreshes=tuple(
        r for r, moment in dated if moment is not None and utc(moment) > oldest
        and (r.data_source_id is None or (by_name and r.data_source_name is None))))


_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def detect(subscriptions: Sequence[WatchedSubscription], snapshot: Snapshot, changes: Changes,
           threshold_states: Mapping[str, ThresholdState]) -> Detection:
    """Events of one poll for the subscriptions of ``snapshot.instance_id``.

    ``changes`` are the outcomes not reported before (:func:`.observations.observe_outcomes`);
    ``threshold_states`` holds the states of threshold subscriptions by subscription id; a
    subscription without one starts from its :attr:`~.rules.WatchedSubscription.baseline` (the value
    observed at subscribe), or, when that is unknown, with an empty state (its first observation is
    then its baseline).
    Raises ValueError for a subscription of another instance or of an unknown trigger kind.
    """
    events: dict[str, list[Event]] = {}
    new_threshold_states: dict[str, ThresholdState] = {}
    for subscription in subscriptions:
        if subscription.instance_id != snapshot.instance_id:
            raise ValueError(f"subscription {subscription.subscription_id} is not on instance {snapshot.instance_id}")
        kind = CATALOG.get(subscription.trigger_kind)
        if kind is None:
            raise ValueError(f"subscription {subscription.subscription_id} has unknown trigger kind "
                             f"{subscription.trigger_kind!r}")
        if isinstance(kind.rule, ThresholdRule):
            state = threshold_states.get(subscription.subscription_id,
                                         ThresholdState(last_value=subscription.baseline))
            state, event = kind.rule.evaluate(subscription, snapshot, state)
            new_threshold_states[subscription.subscription_id] = state
            found = [event] if event else []
        else:
            found = kind.rule.events(subscription, snapshot, changes)
        if found:
            events[subscription.subscription_id] = found
    return Detection(events, new_threshold_states)
