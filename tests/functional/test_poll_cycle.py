"""The poll cycle against in-memory stores and a fake CI: leases, one call per list, events once,
failures that keep the state, a crash between enqueue and commit."""
from __future__ import annotations

import json

import pytest

from ciconnector.delivery.message import DeliveryMessage
from ciconnector.errors import ConcurrentChange
from ciconnector.webhooks.polling import Poller

from .fakes import DATA_SOURCE, INSTANCE


def test_a_threshold_crossing_is_delivered_once_after_the_baseline(world):
    sub = world.subscribe("segmentThresholdCrossed", segmentName="HighValue", threshold=100)
    baseline = world.poll()
    assert (baseline.fetched, baseline.deliveries, baseline.committed) == (("segments",), 0, True)
    world.ci.segment_counts["HighValue"] = 250
    world.later(minutes=1)
    assert world.poll().deliveries == 1
    [queued] = world.queued()
    note = queued.message["notification"]
    assert queued.message["subscriptionId"] == sub.subscription_id and queued.delay_seconds == 0
    assert (note["previousValue"], note["currentValue"], note["crossing"]) == (10, 250, "above")
    world.later(minutes=1)
    assert world.poll().deliveries == 0, "the crossing is reported once"


def test_each_ci_list_is_fetched_once_however_many_subscriptions(world):
    for threshold in range(100, 110):
        world.subscribe("segmentThresholdCrossed", segmentName="HighValue", threshold=threshold)
    world.subscribe("measureThresholdCrossed", measureName="Revenue", threshold=1000)
    world.ci.calls.clear()
    report = world.poll()
    assert sorted(world.ci.calls) == ["list_measures", "list_segments"]
    assert set(report.fetched) == {"measures", "segments"}


def test_a_failed_ci_list_emits_nothing_and_keeps_the_baseline(world):
    world.subscribe("segmentThresholdCrossed", segmentName="HighValue", threshold=100)
    world.poll()
    world.ci.segment_counts["HighValue"] = 250
    world.ci.failing.add("list_segments")
    report = world.poll()
    assert (report.failed, report.deliveries, report.committed) == (("segments",), 0, True)
    world.ci.failing.clear()
    assert world.poll().deliveries == 1, "the crossing is seen against the kept baseline"


def test_a_refresh_failure_fires_once(world):
    world.ci.refresh_data_source("updated", "2026-11-25T11:00:00Z")
    world.subscribe("dataSourceRefreshFailed")
    world.poll()
    world.ci.refresh_data_source("updateFailed", "2026-11-25T12:30:00Z")
    world.later(hours=1)
    assert world.poll().deliveries == 1
    [queued] = world.queued()
    assert queued.message["notification"]["trigger"] == "dataSourceRefreshFailed"
    assert world.poll().deliveries == 0


def test_a_live_lease_makes_a_second_poller_skip(world):
    world.subscribe("dataSourceRefreshFailed")
    watch = world.stores.watch
    watch.acquire_lease(watch.load(INSTANCE), seconds=300, now=world.now)
    assert world.poll().skipped == "another poller holds the lease"
    world.later(seconds=301)
    assert world.poll().committed, "an expired lease is taken over"


def test_an_instance_without_enabled_subscriptions_is_unwatched(world):
    sub = world.subscribe("dataSourceRefreshFailed")
    world.app.subscription_service.unsubscribe(INSTANCE, sub.subscription_id)
    assert world.poll().skipped == "no active subscriptions"
    assert world.app.poller.plan() == []
    assert world.app.poller.poll(INSTANCE).skipped == "not watched"


def test_a_lease_lost_during_a_slow_poll_stops_the_cycle(world):
    world.subscribe("dataSourceRefreshFailed")
    world.subscribe("segmentThresholdCrossed", segmentName="HighValue", threshold=100)
    watch, lists = world.stores.watch, world.ci.list_data_sources

    def slow_list(instance_id):  # half the lease goes by, and another writer changes the row
        world.later(seconds=world.app.poller._lease_seconds)
        watch.commit(watch.load(INSTANCE), watch.load(INSTANCE).state)
        return lists(instance_id)

    world.ci.list_data_sources = slow_list
    assert world.poll().skipped == "lease lost during the poll"


class Crash(Exception):
    """The process dies here."""


def test_a_crash_between_enqueue_and_commit_repeats_the_same_event_ids(world):
    world.subscribe("segmentThresholdCrossed", segmentName="HighValue", threshold=100)
    world.poll()
    world.ci.segment_counts["HighValue"] = 250
    original_commit = world.stores.watch.commit

    def crash(record, state):
        raise Crash()

    world.stores.watch.commit = crash
    with pytest.raises(Crash):
        world.poll()
    first = world.queued()
    world.stores.watch.commit = original_commit
    world.later(seconds=world.app.poller._lease_seconds + 1)
    assert world.poll().deliveries == 1
    again = world.queued()
    assert [q.message["eventId"] for q in again] == [q.message["eventId"] for q in first]
    outcomes = [world.app.deliverer.deliver(DeliveryMessage.parse(json.dumps(q.message))) for q in first + again]
    assert [o.status for o in outcomes] == ["delivered", "duplicate"]
    assert len(world.callbacks.posts) == 1


def test_plan_lists_one_message_per_watched_instance(world):
    world.subscribe("dataSourceRefreshFailed")
    assert world.app.poller.plan() == [json.dumps({"instanceId": INSTANCE})]


def test_the_poller_reports_each_cycle_to_its_activity_hook(world):
    reports = []

    class Recorder:
        def poll_finished(self, report):
            reports.append(report)

        def delivery_answered(self, message, answer):
            raise AssertionError("not a delivery")

    stores = world.stores
    poller = Poller(ci=world.ci, subscriptions=stores.subscriptions, watch=stores.watch, queues=stores.queues,
                    lease_seconds=60, clock=lambda: world.now, activity=Recorder())
    world.subscribe("dataSourceRefreshFailed")
    report = poller.poll(INSTANCE)
    assert reports == [report] and report.committed


def test_a_lost_commit_is_reported_not_raised(world):
    world.subscribe("segmentThresholdCrossed", segmentName="HighValue", threshold=100)

    def lose(record, state):
        raise ConcurrentChange("watch state")

    world.stores.watch.commit = lose
    report = world.poll()
    assert report.fetched == ("segments",) and not report.committed


# --- issue 8, situation 1: the first poll after the instance's first subscription -----------------

def test_a_refresh_failure_before_the_first_poll_is_delivered_once(world):
    world.ci.refresh_data_source("updated", "2026-11-25T11:00:00Z")
    world.subscribe("dataSourceRefreshFailed")  # the instance's first subscription, at 12:00
    world.ci.refresh_data_source("updateFailed", "2026-11-25T12:00:30Z")
    world.later(minutes=1)
    assert world.poll().deliveries == 1, "the first poll reports what completed after subscribe"
    assert [o.status for o in world.deliver_queued()] == ["delivered"]
    assert world.callbacks.posts[0].notification["subjectId"] == DATA_SOURCE
    world.later(minutes=1)
    assert world.poll().deliveries == 0


def test_a_failure_completed_at_the_subscribe_time_is_not_news(world):
    world.subscribe("dataSourceRefreshFailed")
    world.ci.refresh_data_source("updateFailed", "2026-11-25T12:00:00Z")  # equal to the creation: not after
    assert world.poll().deliveries == 0


def test_a_job_that_ended_before_the_first_poll_is_delivered_once(world):
    world.subscribe("fullRefreshCompleted")
    world.subscribe("unificationRefreshCompleted")
    world.ci.jobs = [
        {"jobId": "j-new", "jobStatus": "failed", "operationType": "all", "jobSubmissionKind": "scheduled",
         "endTimestamp": "2026-11-25T12:00:20Z",
         "tasks": [{"taskId": "m1", "operationType": "merge", "taskStatus": "successful",
                    "endTimestamp": "2026-11-25T12:00:10Z"}]},
        {"jobId": "j-old", "jobStatus": "successful", "operationType": "all", "jobSubmissionKind": "scheduled",
         "endTimestamp": "2026-11-25T11:59:00Z"},
    ]
    world.later(minutes=1)
    assert world.poll().deliveries == 2
    notes = sorted((q.message["notification"]["trigger"], q.message["notification"]["jobId"])
                   for q in world.queued())
    assert notes == [("fullRefreshCompleted", "j-new"), ("unificationRefreshCompleted", "j-new")]
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
    notes = {q.message["subscriptionId"]: q.message["notification"] for q in world.queued()}
    values = {sid: (note["previousValue"], note["currentValue"]) for sid, note in notes.items()}
    assert values == {segment.subscription_id: (10, 250), measure.subscription_id: (100, 200)}
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
