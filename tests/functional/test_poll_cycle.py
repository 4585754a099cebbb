"""The poll cycle against in-memory stores and a fake CI: one call per list, events once from the job
history, the outbox (a commit that dies midway loses and repeats nothing), per-subscription
threshold rows, idle cost, leases, deactivation that keeps the state."""
from __future__ import annotations

import json
from typing import Any

import pytest

from ciconnector.errors import ConcurrentChange, StorageUnavailable
from ciconnector.storage import watch as watch_module
from ciconnector.trigger_kinds.job_history import MAX_JOBS_READ

from .fakes import DATA_SOURCE, INSTANCE


def posted(world) -> list[dict[str, Any]]:
    """Deliver everything queued; the notifications the flows received, in order."""
    before = len(world.callbacks.posts)
    world.deliver_queued()
    return [dict(p.notification) for p in world.callbacks.posts[before:]]


class Counting:
    """Counts the watch partition's and the subscription store's storage calls."""

    def __init__(self, world) -> None:
        self.calls: list[str] = []
        for store, names in ((world.stores.watch, ("read", "commit", "thresholds", "take_lease", "release",
                                                     "dispatched", "deactivate")),
                             (world.stores.subscriptions, ("list_for_instance",))):
            for name in names:
                setattr(store, name, self._wrap(name, getattr(store, name)))

    def _wrap(self, name, method):
        def counted(*args, **kwargs):
            self.calls.append(name)
            return method(*args, **kwargs)
        return counted


def test_a_threshold_crossing_is_delivered_once_after_the_baseline(world):
    sub = world.subscribe("segmentThresholdCrossed", segmentName="HighValue", threshold=100)
    first = world.poll()
    assert (first.fetched, first.deliveries, first.committed) == (("segments",), 0, True)
    world.ci.segment_counts["HighValue"] = 250
    world.later(minutes=1)
    assert world.poll().deliveries == 1
    [note] = posted(world)
    assert (note["previousValue"], note["currentValue"], note["crossing"]) == (10, 250, "above")
    assert world.callbacks.posts[0].url == sub.callback_url
    world.later(minutes=1)
    assert world.poll().deliveries == 0, "the crossing is reported once"


def test_each_ci_list_is_fetched_once_however_many_subscriptions(world):
    for threshold in range(100, 110):
        world.subscribe("segmentThresholdCrossed", segmentName="HighValue", threshold=threshold)
    world.subscribe("measureThresholdCrossed", measureName="Revenue", threshold=1000)
    world.subscribe("dataSourceRefreshFailed")
    world.subscribe("fullRefreshCompleted")
    world.ci.calls.clear()
    report = world.poll()
    assert sorted(world.ci.calls) == ["list_jobs", "list_measures", "list_segments"]
    assert set(report.fetched) == {"jobs", "measures", "segments"}


def test_a_failed_ci_list_emits_nothing_and_keeps_the_state(world):
    world.subscribe("segmentThresholdCrossed", segmentName="HighValue", threshold=100)
    world.subscribe("dataSourceRefreshFailed")
    world.poll()
    world.ci.segment_counts["HighValue"] = 250
    world.ci.refresh_data_source("failed", "2026-11-25T12:00:30Z", error="SourceUnreachable")
    world.ci.failing |= {"list_segments", "list_jobs"}
    report = world.poll()
    assert (sorted(report.failed), report.deliveries, report.committed) == (["jobs", "segments"], 0, True)
    world.ci.failing.clear()
    assert world.poll().deliveries == 2, "both are seen once CI answers again"


# --- situation 3: one event per refresh, from the job history ------------------------------------

def test_two_refreshes_between_two_polls_are_two_events(world):
    world.subscribe("dataSourceRefreshFailed")
    world.subscribe("dataSourceRefreshSucceeded")
    world.poll()
    world.ci.refresh_data_source("failed", "2026-11-25T12:00:20Z", error="SourceUnreachable")
    world.ci.refresh_data_source("successful", "2026-11-25T12:00:40Z")
    world.ci.refresh_data_source("failed", "2026-11-25T12:00:50Z", error="Timeout")
    world.later(minutes=1)
    assert world.poll().deliveries == 3
    notes = sorted(posted(world), key=lambda n: n["endedAt"])
    assert [(n["trigger"], n.get("errorCode")) for n in notes] == [
        ("dataSourceRefreshFailed", "SourceUnreachable"), ("dataSourceRefreshSucceeded", None),
        ("dataSourceRefreshFailed", "Timeout")]
    assert {n["subjectId"] for n in notes} == {DATA_SOURCE} and len({n["taskId"] for n in notes}) == 3
    world.later(minutes=1)
    assert world.poll().deliveries == 0


def test_refreshes_are_read_from_the_history_while_the_data_source_list_fails(world):
    world.subscribe("dataSourceRefreshFailed", dataSourceId="PoS")  # by name: the list names the id
    world.poll()
    world.ci.failing.add("list_data_sources")
    world.ci.refresh_data_source("failed", "2026-11-25T12:00:20Z", error="SourceUnreachable")
    world.later(minutes=1)
    assert world.poll().deliveries == 0, "which data source it was is not known yet: nothing is lost"
    world.ci.failing.clear()
    world.ci.refresh_data_source("failed", "2026-11-25T12:01:20Z", error="SourceUnreachable")
    world.later(minutes=1)
    assert world.poll().deliveries == 2
    assert [n["subjectName"] for n in posted(world)] == ["PoS data", "PoS data"]


# --- situation 2: a busy instance -----------------------------------------------------------------

def test_a_full_refresh_behind_sixty_newer_jobs_is_reported(world):
    world.subscribe("fullRefreshCompleted")
    world.poll()
    world.ci.add_job("all", [("merge", "Merge", "successful", None)], ended="2026-11-25T12:00:30Z",
                     kind="scheduled")
    for second in range(60):
        world.ci.add_job("segmentation", [("segmentation", "S", "successful", None)],
                         ended=f"2026-11-25T12:00:{second:02d}Z", submitted="2026-11-25T12:00:31Z")
    world.later(minutes=1)
    world.ci.calls.clear()
    assert world.poll().deliveries == 1
    assert world.ci.calls.count("list_jobs") > 1, "read back further than the first 25 jobs"
    [note] = posted(world)
    assert note["trigger"] == "fullRefreshCompleted"


def test_history_that_cannot_be_read_back_is_recorded_as_a_gap(world):
    world.subscribe("fullRefreshCompleted")
    world.poll()
    for second in range(MAX_JOBS_READ + 5):
        world.ci.add_job("segmentation", [("segmentation", "S", "successful", None)],
                         ended="2026-11-25T12:00:40Z", submitted=f"2026-11-25T12:{1 + second // 60:02d}:"
                                                                  f"{second % 60:02d}Z")
    world.later(hours=1)
    assert world.poll().committed
    gaps = world.stores.watch.read(INSTANCE).state["jobs"]["gaps"]
    assert len(gaps) == 1 and "more than 1000 jobs" in gaps[0]["reason"]


# --- situation 4: the outbox ----------------------------------------------------------------------

def test_a_commit_that_dies_midway_neither_loses_nor_repeats(world, monkeypatch):
    monkeypatch.setattr(watch_module, "MAX_GROUP_OPERATIONS", 2)  # one threshold shard (+ outbox) per transaction
    subs = [world.subscribe("segmentThresholdCrossed", segmentName="HighValue", threshold=100) for _ in range(8)]
    shards = {watch_module.threshold_shard(s.subscription_id) for s in subs}
    assert len(shards) > 2
    world.poll()
    world.ci.segment_counts["HighValue"] = 250
    world.stores.watch.fail_before_transaction = 2
    with pytest.raises(StorageUnavailable):
        world.poll()
    assert world.queued() == [], "nothing is sent before its commit"
    [entry] = world.stores.watch.read(INSTANCE).outbox
    committed = len(entry.items)
    assert 0 < committed < 8, "the first shard's crossings and their notifications, nothing else"
    report = world.poll()  # sends the committed group's outbox, detects the others again
    assert report.deliveries == 8 - committed and report.committed
    notes = posted(world)
    assert len(notes) == 8 and len({n["eventId"] for n in notes}) == 8
    assert world.poll().deliveries == 0 and world.stores.watch.read(INSTANCE).outbox == ()


def test_a_subscribe_during_a_poll_does_not_make_a_crossing_fire_twice(world):
    """Situation 4: a subscribe during a poll no longer makes the commit fail after its events were
    sent (nothing is sent before the commit), and the next poll detects the crossing once."""
    world.subscribe("segmentThresholdCrossed", segmentName="HighValue", threshold=100)
    world.poll()
    world.ci.segment_counts["HighValue"] = 120
    lists = world.ci.list_segments

    def subscribe_meanwhile(instance_id):
        world.ci.list_segments = lists  # subscribe reads the segments too
        world.subscribe("segmentThresholdCrossed", segmentName="HighValue", threshold=500)
        return lists(instance_id)

    world.ci.list_segments = subscribe_meanwhile
    report = world.poll()
    assert not report.committed and world.queued() == [], "its subscriptions changed: the poll commits nothing"
    assert world.poll().deliveries == 1
    world.ci.segment_counts["HighValue"] = 130
    assert world.poll().deliveries == 0
    assert [n["currentValue"] for n in posted(world)] == [120], "10→120 once, never 10→130"


def test_a_lost_commit_sends_nothing_and_the_next_poll_detects_again(world):
    world.subscribe("segmentThresholdCrossed", segmentName="HighValue", threshold=100)
    world.poll()
    world.ci.segment_counts["HighValue"] = 250
    commit = world.stores.watch.commit

    def lose(*args, **kwargs):
        raise ConcurrentChange("watch state")

    world.stores.watch.commit = lose
    report = world.poll()
    assert report.fetched == ("segments",) and not report.committed and world.queued() == []
    world.stores.watch.commit = commit
    assert world.poll().deliveries == 1 and len(posted(world)) == 1


def test_outbox_entries_a_crash_left_are_sent_by_the_next_poll(world):
    world.subscribe("segmentThresholdCrossed", segmentName="HighValue", threshold=100)
    world.poll()
    world.ci.segment_counts["HighValue"] = 250
    send = world.queues.send

    def die(*args, **kwargs):
        raise StorageUnavailable()

    world.queues.send = die  # committed, then the process dies before sending
    with pytest.raises(StorageUnavailable):
        world.poll()
    world.queues.send = send
    assert world.poll().deliveries == 0
    assert [n["currentValue"] for n in posted(world)] == [250]


# --- situation 9: state rows that do not grow with the subscriptions -----------------------------

def test_threshold_state_lives_in_a_bounded_number_of_shard_rows(world):
    subs = [world.subscribe("segmentThresholdCrossed", segmentName="HighValue", threshold=100 + i)
            for i in range(300)]
    world.poll()
    world.ci.segment_counts["HighValue"] = 1000
    assert world.poll().deliveries == 300
    view = world.stores.watch.read(INSTANCE)
    assert len(json.dumps(dict(view.state))) < 4000, "the watch row does not grow with the subscriptions"
    assert set(world.stores.watch.thresholds(INSTANCE)) == {s.subscription_id for s in subs}
    world.app.subscription_service.unsubscribe(INSTANCE, subs[0].subscription_id)
    world.poll()
    assert subs[0].subscription_id not in world.stores.watch.thresholds(INSTANCE)


# --- cheap when nothing happens --------------------------------------------------------------------

def test_an_idle_poll_reads_one_range_and_writes_one_row(world):
    world.subscribe("segmentThresholdCrossed", segmentName="HighValue", threshold=100)
    world.subscribe("dataSourceRefreshFailed")
    world.poll()
    counting = Counting(world)
    world.later(minutes=1)
    report = world.poll()
    assert report.committed and not report.subscriptions_read
    assert counting.calls == ["read", "commit"]


def test_a_changed_value_reads_the_subscriptions_and_threshold_rows(world):
    world.subscribe("segmentThresholdCrossed", segmentName="HighValue", threshold=100)
    world.poll()
    counting = Counting(world)
    world.ci.segment_counts["HighValue"] = 50
    assert world.poll().deliveries == 0
    assert counting.calls == ["read", "list_for_instance", "thresholds", "commit"]


# --- situation 6: leases ---------------------------------------------------------------------------

def test_a_live_lease_makes_a_second_poller_skip_until_it_ends(world):
    world.subscribe("dataSourceRefreshFailed")
    world.poll()
    watch = world.stores.watch
    watch.take_lease(watch.read(INSTANCE), seconds=90, now=world.now)  # a poller took it and died
    assert world.poll().skipped == "another poller holds the lease"
    world.later(seconds=91)
    assert world.poll().committed, "an expired lease is taken over"


def test_a_slow_poll_takes_a_lease_and_releases_it_on_every_exit(world):
    world.subscribe("segmentThresholdCrossed", segmentName="HighValue", threshold=100)
    world.subscribe("dataSourceRefreshFailed")
    world.poll()
    ticks = iter(range(0, 10_000, 60))
    poller = world.app.poller
    poller._monotonic = lambda: float(next(ticks))  # every CI call looks 60 s long
    lists = world.ci.list_segments

    def seen_leased(instance_id):
        assert world.stores.watch.read(INSTANCE).lease_until is not None, "taken after half the lease"
        raise RuntimeError("the process dies")

    world.ci.list_segments = seen_leased
    with pytest.raises(RuntimeError):
        world.poll()
    assert world.stores.watch.read(INSTANCE).lease_until is None, "released on the way out"
    world.ci.list_segments = lists
    assert world.poll().committed
    assert world.stores.watch.read(INSTANCE).lease_until is None


def test_a_lease_lost_during_a_slow_poll_stops_the_cycle(world):
    world.subscribe("dataSourceRefreshFailed")
    world.subscribe("segmentThresholdCrossed", segmentName="HighValue", threshold=100)
    world.poll()
    watch, lists = world.stores.watch, world.ci.list_segments
    ticks = iter(range(0, 10_000, 60))
    world.app.poller._monotonic = lambda: float(next(ticks))

    def intruder(instance_id):  # another writer changed the row while this poll waited on CI
        view = watch.read(INSTANCE)
        watch.commit(view, state=view.state, polled_at=world.now)
        return lists(instance_id)

    world.ci.list_jobs, jobs = (lambda instance_id, **kw: intruder(instance_id) and jobs(instance_id, **kw)), \
        world.ci.list_jobs
    assert world.poll().skipped == "lease lost during the poll"
    assert world.queued() == []


# --- deactivation keeps the state (the duplicate path of a re-watched instance) -----------------

def test_an_instance_without_enabled_subscriptions_is_no_longer_polled(world):
    sub = world.subscribe("dataSourceRefreshFailed")
    world.app.subscription_service.unsubscribe(INSTANCE, sub.subscription_id)
    assert world.poll().skipped == "no active subscriptions"
    assert world.app.poller.plan() == []
    assert world.app.poller.poll(INSTANCE).skipped == "not watched"


def test_a_rewatched_instance_continues_where_it_stopped(world):
    failed = world.subscribe("dataSourceRefreshFailed")
    threshold = world.subscribe("segmentThresholdCrossed", segmentName="HighValue", threshold=100)
    world.ci.refresh_data_source("failed", "2026-11-25T12:00:20Z", error="SourceUnreachable")
    world.ci.segment_counts["HighValue"] = 150
    world.later(minutes=1)
    assert world.poll().deliveries == 2
    assert len(posted(world)) == 2
    world.callbacks.script = [404] * 6  # both flows answer 404 three times: disabled, dead-lettered
    world.ci.segment_counts["HighValue"] = 50
    world.ci.segment_counts["HighValue"] = 160
    world.ci.refresh_data_source("failed", "2026-11-25T12:01:20Z", error="SourceUnreachable")
    world.later(minutes=1)
    world.ci.segment_counts["HighValue"] = 20
    world.poll()
    world.ci.segment_counts["HighValue"] = 160
    world.later(minutes=1)
    world.poll()
    for _ in range(3):
        world.deliver_queued()
    assert not any(s.enabled for s in world.stores.subscriptions.list_for_instance(INSTANCE))
    world.later(minutes=1)
    assert world.poll().skipped == "no active subscriptions"
    letters = world.stores.dead_letters.list_for_instance(INSTANCE)
    assert len(letters) == 2
    for letter in letters:
        world.app.deliverer.replay(INSTANCE, letter.dead_letter_id)
    world.deliver_queued()
    world.later(minutes=1)
    report = world.poll()
    assert report.committed and report.deliveries == 0, "no old outcome or crossing is sent again"
    assert {s.subscription_id for s in world.stores.subscriptions.list_for_instance(INSTANCE) if s.enabled} == \
        {failed.subscription_id, threshold.subscription_id}


def test_plan_lists_one_message_per_watched_instance(world):
    world.subscribe("dataSourceRefreshFailed")
    assert world.app.poller.plan() == [json.dumps({"instanceId": INSTANCE})]


def test_each_poll_records_its_activity_in_the_watch_row(world):
    world.subscribe("segmentThresholdCrossed", segmentName="HighValue", threshold=100)
    world.ci.failing.add("list_segments")
    world.poll()
    activity = world.stores.watch.read(INSTANCE).state["activity"]
    assert (activity["failed"], activity["committed"]) == (["segments"], True)
    assert sum(c for c, _ in activity["calls"].values()) == 1


# --- situation 1: the first poll after the instance's first subscription -----------------

def test_a_refresh_failure_before_the_first_poll_is_delivered_once(world):
    world.ci.refresh_data_source("successful", "2026-11-25T11:00:00Z")
    world.subscribe("dataSourceRefreshFailed")  # the instance's first subscription, at 12:00
    world.ci.refresh_data_source("failed", "2026-11-25T12:00:30Z", error="SourceUnreachable")
    world.later(minutes=1)
    assert world.poll().deliveries == 1, "the first poll reports what completed after subscribe"
    [note] = posted(world)
    assert note["subjectId"] == DATA_SOURCE and note["errorCode"] == "SourceUnreachable"
    world.later(minutes=1)
    assert world.poll().deliveries == 0


def test_a_failure_completed_at_the_subscribe_time_is_not_news(world):
    world.subscribe("dataSourceRefreshFailed")
    world.ci.refresh_data_source("failed", "2026-11-25T12:00:00Z")  # equal to the creation: not after
    assert world.poll().deliveries == 0


def test_a_job_that_ended_before_the_first_poll_is_delivered_once(world):
    world.subscribe("fullRefreshCompleted")
    world.subscribe("unificationRefreshCompleted")
    world.ci.add_job("all", [], ended="2026-11-25T11:59:00Z", kind="scheduled", status="successful")
    world.ci.add_job("all", [("merge", "Merge", "successful", None)], ended="2026-11-25T12:00:20Z",
                     kind="scheduled", status="failed")
    world.later(minutes=1)
    assert world.poll().deliveries == 2
    notes = posted(world)
    assert sorted(n["trigger"] for n in notes) == ["fullRefreshCompleted", "unificationRefreshCompleted"]
    assert len({n["jobId"] for n in notes}) == 1
    world.later(minutes=1)
    assert world.poll().deliveries == 0


def test_a_threshold_crossed_before_the_first_poll_fires_against_the_subscribe_value(world):
    segment = world.subscribe("segmentThresholdCrossed", segmentName="HighValue", threshold=100)
    measure = world.subscribe("measureThresholdCrossed", measureName="Revenue", threshold=150)
    assert (segment.baseline, measure.baseline) == (10, 100.0)
    world.ci.segment_counts["HighValue"] = 250
    world.ci.measures["Revenue"] = 200.0
    world.later(minutes=1)
    assert world.poll().deliveries == 2
    posted(world)
    values = [(p.notification["previousValue"], p.notification["currentValue"]) for p in world.callbacks.posts]
    assert sorted(values) == [(10, 250), (100, 200)]
    world.later(minutes=1)
    assert world.poll().deliveries == 0


def test_a_threshold_value_unknown_at_subscribe_is_set_by_the_first_poll(world):
    world.ci.measures["Revenue"] = 100.0
    original = world.ci.get_measure

    def unevaluated(instance_id, name):
        from ciconnector.customer_insights import Measure
        original(instance_id, name)
        return Measure.from_api({"name": name, "displayName": name, "definition": {"isScalar": True}})

    world.ci.get_measure = unevaluated
    sub = world.subscribe("measureThresholdCrossed", measureName="Revenue", threshold=50)
    assert sub.baseline is None
    assert world.poll().deliveries == 0, "no baseline yet: the first poll sets it"
    world.ci.measures["Revenue"] = 20.0
    world.later(minutes=1)
    assert world.poll().deliveries == 0, "below is not the subscription's direction"
    world.ci.measures["Revenue"] = 70.0
    world.later(minutes=1)
    assert world.poll().deliveries == 1


def test_a_subscription_made_during_a_poll_gets_the_outcomes_after_its_creation(world):
    """Found by the fault campaign: a poll that read the subscriptions before a subscribe and the job
    history after it must not advance its cursor past the new subscription's first outcome."""
    first = world.subscribe("dataSourceRefreshFailed")
    world.poll()
    list_jobs = world.ci.list_jobs
    made = []

    def subscribe_then_refresh(instance_id, **kwargs):
        if not made:
            world.later(seconds=1)
            made.append(world.subscribe("dataSourceRefreshFailed"))
            world.ci.refresh_data_source("failed", "2026-11-25T12:00:03Z", error="SourceUnreachable")
        return list_jobs(instance_id, **kwargs)

    world.ci.list_jobs = subscribe_then_refresh
    world.later(seconds=1)
    assert not world.poll().committed, "the subscriptions changed during the poll"
    world.ci.list_jobs = list_jobs
    assert world.poll().deliveries == 2
    posted(world)
    assert len(world.callbacks.posts) == 2 and {p.event_id for p in world.callbacks.posts} == {
        p.event_id for p in world.callbacks.posts[:1]}, "one event, to both subscriptions"
    assert first.subscription_id != made[0].subscription_id
