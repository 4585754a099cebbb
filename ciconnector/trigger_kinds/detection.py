"""Detection: one poll of one instance → the events each subscription must receive.

:func:`detect` is pure: the same subscriptions, snapshot and states always give the same events
(with the same ids) and the same new states, so a poll that is retried after a crash before its
states were saved re-emits identical events that delivery drops as duplicates. The caller saves
the returned states after enqueuing the events.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from .catalog import CATALOG
from .events import Event
from .observations import PollResource, Snapshot, observe_changes
from .rules import ThresholdRule, WatchedSubscription
from .thresholds import ThresholdState
from .watermark import WatchState


@dataclass(frozen=True)
class Detection:
    """The result of one poll.

    Attributes:
        events: events per subscription id (only subscriptions with events appear).
        watch_state: the instance's new watch state.
        threshold_states: the new state of every threshold subscription given.
    """

    events: dict[str, list[Event]] = field(default_factory=dict)
    watch_state: WatchState = field(default_factory=WatchState)
    threshold_states: dict[str, ThresholdState] = field(default_factory=dict)


def resources_for(subscriptions: Iterable[WatchedSubscription]) -> frozenset[PollResource]:
    """The CI lists one poll must fetch to serve ``subscriptions``."""
    return frozenset().union(*(CATALOG[s.trigger_kind].resources for s in subscriptions))


def detect(subscriptions: Sequence[WatchedSubscription], snapshot: Snapshot, watch_state: WatchState,
           threshold_states: Mapping[str, ThresholdState]) -> Detection:
    """Events of one poll for the subscriptions of ``snapshot.instance_id``.

    ``threshold_states`` holds the states of threshold subscriptions by subscription id; a
    subscription without one starts from its :attr:`~.rules.WatchedSubscription.baseline` (the value
    observed at subscribe), or, when that is unknown, with an empty state (its first observation is
    then its baseline).
    Raises ValueError for a subscription of another instance or of an unknown trigger kind.
    """
    changes, new_watch_state = observe_changes(snapshot, watch_state)
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
    return Detection(events, new_watch_state, new_threshold_states)
