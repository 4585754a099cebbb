"""The watch partition contract (:mod:`ciconnector.storage.watch`), against every implementation: in
memory, and Table Storage on real Azurite in both connection modes.

The poller's correctness rests on it: a stale view commits nothing, a commit is whole groups or
nothing per transaction, an outbox entry is committed with its state and removed once dispatched,
and a deactivation loses to any subscription change since the view was read.
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from ciconnector.errors import ConcurrentChange, StorageUnavailable
from ciconnector.services import Stores
from ciconnector.storage.activity import ActivityStore, CallCounts, PollActivity, poll_activity
from ciconnector.storage.memory import MemoryWatchStore
from ciconnector.storage.tables import TableStore
from ciconnector.storage.watch import (
    MAX_GROUP_OPERATIONS,
    MAX_JSON_CHARS,
    THRESHOLD_SHARDS,
    CommitGroup,
    InstanceNotWatchedError,
    Op,
    OutboxEntry,
    WatchPartitions,
    WatchStore,
    WatchView,
    threshold_shard,
)
from ciconnector.trigger_kinds.thresholds import ThresholdState

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(stores: Stores) -> WatchPartitions:
    """One implementation of the watch store (see ``tests.fixtures.stores``)."""
    return stores.watch


def new_id() -> str:
    return uuid.uuid4().hex


def watched(store: WatchPartitions) -> str:
    instance = new_id()
    store.watch(instance)
    return instance


def sid(prefix: str, i: int, shard: int) -> str:
    """A subscription id ``<prefix>-<i>-…`` whose threshold state lives in ``shard``."""
    ids = (f"{prefix}-{i:03d}-{n}" for n in range(10_000))
    return next(candidate for candidate in ids if threshold_shard(candidate) == f"{shard:02x}")


def threshold_group(prefix: str, count: int, *, outbox: str | None = None, value: int = 1, first_shard: int = 0,
                    filler: int = 0) -> CommitGroup:
    """``count`` subscriptions' states, one per shard from ``first_shard``, plus ``filler`` more
    outbox entries (so the group has ``count + filler (+1)`` operations)."""
    shards = {f"{(first_shard + i) % THRESHOLD_SHARDS:02x}": {sid(prefix, i, (first_shard + i) % THRESHOLD_SHARDS):
                                                               ThresholdState(value, i)} for i in range(count)}
    entries = [OutboxEntry(f"{prefix}-fill-{i:03d}", i) for i in range(filler)]
    return CommitGroup(threshold_shards=shards,
                       outbox=(*((OutboxEntry(outbox, [{"event": outbox}]),) if outbox else ()), *entries))


def prefixes(states: dict) -> set[str]:
    return {key.split("-")[0] for key in states}


def interrupt_before(store: WatchPartitions, number: int, action) -> None:
    """Run ``action`` (a concurrent writer) just before the next commit's ``number``-th transaction (once)."""
    original = store._before_commit_transaction

    def hook(n: int) -> None:
        if n == number:
            store._before_commit_transaction = original  # type: ignore[method-assign]
            action()
        original(n)

    store._before_commit_transaction = hook  # type: ignore[method-assign]


def test_watch_read_and_unknown_instances(store):
    instance = new_id()
    with pytest.raises(InstanceNotWatchedError) as err:
        store.read(instance)
    assert (err.value.status, err.value.code) == (404, "InstanceNotWatched")
    store.touch(instance)  # never watched: nothing to do
    assert instance not in store.list_watched(include_inactive=True)
    with pytest.raises(InstanceNotWatchedError):
        store.read(instance)
    store.watch(instance)
    view = store.read(instance)
    assert view == WatchView(instance, True, {}, view.generation) and len(view.generation) == 32
    assert view.etag and view.subs_etag and "etag" not in repr(view)
    assert instance in store.list_watched()
    store.touch(instance)
    touched = store.read(instance)
    assert touched.generation != view.generation and touched.etag == view.etag, "touch changes only 0subs"
    store.watch(instance)
    again = store.read(instance)
    assert again.generation not in (view.generation, touched.generation)
    assert again.etag == view.etag, "watching an active instance leaves its watch row alone (no poll is fenced)"
    assert store.thresholds(instance) == {}


def test_commit_chains_etags_and_a_stale_view_commits_nothing(store):
    instance = watched(store)
    view = store.read(instance)
    first = store.commit(view, state={"n": 1, "é": "ü"}, polled_at=NOW)
    assert first.state == {"n": 1, "é": "ü"} and first.polled_at == NOW and first.lease_until is None
    assert first == store.read(instance) and first.etag == store.read(instance).etag
    second = store.commit(first, state={"n": 2}, polled_at=NOW + timedelta(minutes=1),
                          groups=[threshold_group("a", 3, outbox="p1-0000")])
    assert second == store.read(instance)
    with pytest.raises(ConcurrentChange):
        store.commit(view, state={"n": "stale"}, polled_at=NOW, groups=[threshold_group("b", 10, first_shard=3)])
    with pytest.raises(ConcurrentChange):
        store.commit(first, state={"n": "stale"}, polled_at=NOW,
                     groups=[threshold_group(f"s{i}", 10, outbox=f"stale-{i}", first_shard=10 * i + 3, filler=50)
                             for i in range(3)])
    assert store.read(instance) == second, "no transaction of a stale commit was written"
    assert prefixes(store.thresholds(instance)) == {"a"} and len(store.thresholds(instance)) == 3
    assert store.thresholds(instance)[sid("a", 2, 2)] == ThresholdState(1, 2)


def test_a_commit_spans_transactions_and_a_lost_race_keeps_earlier_groups_whole(store):
    instance = watched(store)
    groups = [threshold_group(f"g{i}", 12, outbox=f"poll-{i:04d}", first_shard=12 * i, filler=37)
              for i in range(5)]  # 250 operations
    interrupt_before(store, 3, lambda: store.take_lease(store.read(instance), seconds=60, now=NOW))
    with pytest.raises(ConcurrentChange):
        store.commit(store.read(instance), state={"n": 1}, polled_at=NOW, groups=groups)
    view = store.read(instance)
    assert view.state == {} and view.lease_until is not None, "the state goes with the last transaction only"
    assert [e.key for e in view.outbox if e.key.startswith("poll")] == ["poll-0000", "poll-0001"], \
        "whole groups of the first two transactions"
    assert prefixes(store.thresholds(instance)) == {"g0", "g1"}
    assert len(store.thresholds(instance)) == 24

    done = store.commit(view, state={"n": 2}, polled_at=NOW, groups=groups)  # the next poll: all of it
    assert done == store.read(instance) and done.lease_until is None and len(done.outbox) == 5 * 38
    assert len(store.thresholds(instance)) == 60


def test_memory_store_can_fail_a_commit_before_its_nth_transaction():
    store = MemoryWatchStore()
    instance = watched(store)
    store.fail_before_transaction = 2
    with pytest.raises(StorageUnavailable):
        store.commit(store.read(instance), state={"n": 1}, polled_at=NOW,
                     groups=[threshold_group(f"g{i}", 20, outbox=f"o{i}", first_shard=20 * i, filler=40)
                             for i in range(3)])
    assert store.fail_before_transaction is None, "it fires once"
    assert [e.key for e in store.read(instance).outbox if not e.key.startswith("g")] == ["o0"]
    assert store.read(instance).state == {}
    store.commit(store.read(instance), state={"n": 1}, polled_at=NOW)
    assert store.read(instance).state == {"n": 1}


def test_oversized_or_invalid_groups_raise_before_anything_is_written(store):
    instance = watched(store)
    view = store.read(instance)
    too_many = threshold_group("x", 40, outbox="one-too-many", filler=MAX_GROUP_OPERATIONS - 40)
    big = "x" * (MAX_JSON_CHARS - 10)
    for groups in ([threshold_group("ok", 10), too_many],
                   [CommitGroup(outbox=(OutboxEntry("huge", big + "x" * 9),))],
                   [CommitGroup(outbox=tuple(OutboxEntry(f"big{i}", big) for i in range(8)))],  # over 4 MiB
                   [CommitGroup(threshold_shards={"00": {sid("a", 0, 1): ThresholdState()}})],  # wrong shard
                   [CommitGroup(outbox=(OutboxEntry("a/b", 1),))]):
        with pytest.raises(ValueError):
            store.commit(view, state={"n": 1}, polled_at=NOW, groups=groups)
    with pytest.raises(ValueError):
        store.commit(view, state={"big": big + "x" * 20}, polled_at=NOW)
    assert store.read(instance) == view and store.read(instance).etag == view.etag
    assert store.thresholds(instance) == {}
    assert store.commit(view, state={}, polled_at=NOW,
                        groups=[threshold_group("x", 40, filler=MAX_GROUP_OPERATIONS - 40)])


def test_large_outbox_entries_round_trip(store):
    instance = watched(store)
    items = [{"eventId": "e", "text": "é\U0001F600" + "x" * (MAX_JSON_CHARS - 60)}]
    committed = store.commit(store.read(instance), state={"n": 1}, polled_at=NOW,
                             groups=[CommitGroup(outbox=(OutboxEntry("big-1", items),)),
                                     CommitGroup(outbox=(OutboxEntry("big-2", items),)),
                                     CommitGroup(outbox=(OutboxEntry("small", {"a": 1}),))])
    view = store.read(instance)
    assert view == committed and [e.key for e in view.outbox] == ["big-1", "big-2", "small"]
    assert view.outbox[0].items == items and view.outbox[2].items == {"a": 1}


def test_outbox_rows_are_pending_until_dispatched(store):
    instance = watched(store)
    entries = [OutboxEntry(f"p1-{i:04d}", {"i": i}) for i in range(150)]
    groups = [CommitGroup(outbox=tuple(entries[i:i + 50])) for i in range(0, 150, 50)]
    committed = store.commit(store.read(instance), state={"n": 1}, polled_at=NOW, groups=groups)
    assert committed.outbox == tuple(entries) and store.read(instance).outbox == tuple(entries)
    store.dispatched(instance, [e.key for e in entries[:120]] + ["never-written"])  # a missing one: one by one
    assert store.read(instance).outbox == tuple(entries[120:])
    store.dispatched(instance, [e.key for e in entries[110:]])
    store.dispatched(instance, [e.key for e in entries[110:]])  # already gone: nothing to do
    store.dispatched(instance, [])
    assert store.read(instance).outbox == ()
    assert store.read(instance).state == {"n": 1}


def test_threshold_rows_upsert_delete_and_unreadable_rows_are_skipped(store, caplog):
    instance = watched(store)
    view = store.commit(store.read(instance), state={}, polled_at=NOW, groups=[threshold_group("t", 3)])
    store._transact(instance, [Op("put", "2t:broken", {"StateChunks": 1, "State0": "{not json"}),
                               Op("put", "2t:wrong", {"StateChunks": 1,
                                                      "State0": '{"w":{"v":1,"last":"x","n":1}}'})])
    with caplog.at_level(logging.WARNING):
        assert set(store.thresholds(instance)) == {sid("t", i, i) for i in range(3)}
    assert "broken" in caplog.text and "w of instance" in caplog.text
    view = store.commit(view, state={}, polled_at=NOW, groups=[
        CommitGroup(threshold_shards={"01": {sid("t", 1, 1): ThresholdState(7.5, 4)}, "00": {}, "3f": {}})])
    assert store.thresholds(instance) == {sid("t", 1, 1): ThresholdState(7.5, 4), sid("t", 2, 2): ThresholdState(1, 2)}
    assert view == store.read(instance)


def test_unreadable_state_reads_as_empty(store, caplog):
    instance = watched(store)
    store._transact(instance, [Op("merge", "0watch", {"StateChunks": 1, "State0": "[1, 2"})])
    with caplog.at_level(logging.WARNING):
        assert store.read(instance).state == {}
    assert "unreadable" in caplog.text
    store._transact(instance, [Op("merge", "0watch", {"StateChunks": 1, "State0": "[1, 2]"})])
    assert store.read(instance).state == {}


def test_lease_is_fenced_and_released(store, caplog):
    instance = watched(store)
    view = store.read(instance)
    leased = store.take_lease(view, seconds=60, now=NOW)
    assert leased.lease_until == NOW + timedelta(seconds=60) and leased == store.read(instance)
    with pytest.raises(ConcurrentChange):
        store.take_lease(view, seconds=60, now=NOW)  # stale view
    with pytest.raises(ConcurrentChange):
        store.commit(view, state={"n": 1}, polled_at=NOW)  # a commit needs the newest view
    renewed = store.take_lease(leased, seconds=120, now=NOW)
    assert store.read(instance).lease_until == NOW + timedelta(seconds=120)
    with caplog.at_level(logging.INFO):
        store.release(leased)  # lost race: not an error, the lease stays
    assert store.read(instance).lease_until == NOW + timedelta(seconds=120) and "not released" in caplog.text
    store.release(renewed, polled_at=NOW)
    assert store.read(instance).lease_until is None and store.read(instance).polled_at == NOW
    store.release(store.read(instance))  # nothing to release
    committed = store.commit(store.take_lease(store.read(instance), seconds=60, now=NOW), state={"n": 3},
                             polled_at=NOW)
    assert committed.lease_until is None and store.read(instance).lease_until is None


def test_deactivate_loses_to_a_subscription_change_and_keeps_the_state(store):
    instance = watched(store)
    view = store.commit(store.read(instance), state={"n": 1}, polled_at=NOW, groups=[threshold_group("t", 2)])
    store.watch(instance)  # a subscribe since the read
    with pytest.raises(ConcurrentChange):
        store.deactivate(view)
    view = store.read(instance)
    store.touch(instance)  # an unsubscribe or a disable since the read
    with pytest.raises(ConcurrentChange):
        store.deactivate(view)
    leased = store.take_lease(store.read(instance), seconds=60, now=NOW)
    with pytest.raises(ConcurrentChange):
        store.deactivate(view)  # the watch row changed (another poll's lease)
    assert store.read(instance).active and instance in store.list_watched()

    store.deactivate(leased)
    view = store.read(instance)
    assert not view.active and view.lease_until is None and view.state == {"n": 1}
    assert instance not in store.list_watched() and instance in store.list_watched(include_inactive=True)
    with pytest.raises(ConcurrentChange):
        store.commit(leased, state={"n": "stale"}, polled_at=NOW)
    store.touch(instance)
    store.watch(instance)
    view = store.read(instance)
    assert view.active and view.state == {"n": 1} and instance in store.list_watched()
    assert set(store.thresholds(instance)) == {sid("t", 0, 0), sid("t", 1, 1)}


def test_console_reads_poll_activity_from_the_watch_row(storage_connection):
    tables = TableStore(storage_connection)
    watch, activity = WatchStore(tables), ActivityStore(tables, clock=lambda: NOW)
    instance, never_polled = new_id(), new_id()
    assert activity.read(instance) == (None, CallCounts(), {}), "not watched: no activity"
    watch.watch(instance)
    watch.watch(never_polled)
    assert activity.read(never_polled) == (None, CallCounts(), {})
    watch.commit(watch.read(instance), state={"activity": {
        "at": "2025-05-01T11:58:00Z", "fetched": ["jobs", "segments"], "failed": ["measures"], "deliveries": 2,
        "committed": True, "completeAt": "2025-05-01T11:50:00Z",
        "calls": {"2025-05-01T10:55:00Z": [9, 9], "2025-05-01T11:05:00Z": [3, 1], "2025-05-01T11:55:00Z": [3, 1]}}},
        polled_at=NOW)
    watch.deactivate(watch.read(instance))  # no longer watched: its last poll still shows
    poll, calls, deliveries = activity.read(instance)
    assert poll == PollActivity(datetime(2025, 5, 1, 11, 58, tzinfo=timezone.utc), ("jobs", "segments"),
                                ("measures",), 2, True, datetime(2025, 5, 1, 11, 50, tzinfo=timezone.utc))
    assert not poll.ok and calls == CallCounts(6, 2) and deliveries == {}
    assert {instance, never_polled} <= set(activity.instances())


def test_unreadable_poll_activity_shows_nothing(caplog):
    assert poll_activity({}, NOW) == (None, CallCounts())
    assert poll_activity({"activity": {"at": "yesterday"}}, NOW) == (None, CallCounts())
    assert poll_activity({"activity": {"at": "2025-05-01T11:58:00Z", "calls": {"x": 1}}}, NOW) == (None, CallCounts())
    assert "unreadable" in caplog.text
    poll, calls = poll_activity({"activity": {"at": "2025-05-01T11:58:00+00:00"}}, NOW)
    assert poll is not None and poll.complete_at is None and not poll.committed and calls == CallCounts()
