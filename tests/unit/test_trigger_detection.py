"""Detection: refresh outcomes fire once, thresholds are edge-triggered, old events never reach new subscriptions."""
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

import pytest
from jsonschema import Draft4Validator

from ciconnector.customer_insights import DataSource, Job, Measure, Segment
from ciconnector.trigger_kinds import CATALOG, Snapshot, ThresholdState, WatchState, detect, resources_for
from ciconnector.trigger_kinds.watermark import MAX_REPORTED, WatchStateError

INSTANCE = "6f0e2a1c-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
DS_A = "1a2b3c4d-0000-4000-8000-00000000000a"
DS_B = "1a2b3c4d-0000-4000-8000-00000000000b"
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def stamp(minutes: float) -> str:
    return at(minutes).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Sub:
    """A subscription as the storage layer hands it to detection."""

    subscription_id: str
    trigger_kind: str
    parameters: Mapping[str, Any]
    created_at: datetime
    instance_id: str = INSTANCE
    baseline: float | None = None


def sub(kind: str, sid: str = "s1", created: float = -60, **params: Any) -> Sub:
    return Sub(sid, kind, {**defaults(kind), "instanceId": INSTANCE, **params}, at(created))


def defaults(kind: str) -> dict[str, Any]:
    """Every parameter of ``kind`` at its declared default, as subscribe stores them when omitted."""
    return {p.name: p.default for p in CATALOG[kind].parameters}


def ds(ds_id: str, state: str | None, last_refresh: float | None, name: str = "PoS") -> DataSource:
    return DataSource.from_api({"dataSourceMetadata": {
        "dataSourceId": ds_id, "name": name, "friendlyName": f"{name} data", "refreshState": state,
        "lastRefresh": None if last_refresh is None else stamp(last_refresh)}})


def task(tid: str, op: str, status: str, ended: float | None = None, error: str | None = None) -> dict:
    return {"taskId": tid, "operationType": op, "taskStatus": status, "friendlyName": f"{op} task",
            "endTimestamp": None if ended is None else stamp(ended),
            "ciError": None if error is None else {"errorCode": error, "message": f"{error} happened",
                                                   "resultSeverity": "error", "exceptionCulprit": "user"}}


def job(jid: str, status: str, op: str = "all", submission: str | None = "scheduled", ended: float | None = None,
        tasks: tuple = ()) -> Job:
    return Job.from_api({"jobId": jid, "jobStatus": status, "operationType": op, "jobSubmissionKind": submission,
                         "submittedTimestamp": stamp(-30), "endTimestamp": None if ended is None else stamp(ended),
                         "tasks": list(tasks)})


def segment(name: str, count: int | None, status: str | None = "CompletedSuccess", evaluated: float = 0) -> Segment:
    evaluation = {"jobStatus": status, "entityCount": count, "evaluationDate": stamp(evaluated)}
    return Segment.from_api({"name": name, "friendlyName": f"{name} customers",
                             "evaluationStatus": {k: v for k, v in evaluation.items() if v is not None}})


def measure(name: str, value: float | None, scalar: bool = True) -> Measure:
    output = None if value is None else {"values": {name: str(value)}, "evaluationTime": stamp(0)}
    return Measure.from_api({"name": name, "displayName": f"{name} total", "definition": {"isScalar": scalar},
                             "output": output})


def assert_payload_valid(kind_id: str, payload: dict) -> None:
    """The payload matches the kind's published schema and uses no undeclared key."""
    schema = CATALOG[kind_id].notification_schema
    validator = Draft4Validator({**schema, "additionalProperties": False},
                                format_checker=Draft4Validator.FORMAT_CHECKER)
    errors = [e.message for e in validator.iter_errors(payload)]
    assert not errors, errors


@dataclass
class Poller:
    """Runs detection poll after poll, storing states as the adapter would (through their JSON form)."""

    subscriptions: list[Sub]
    watch_state: WatchState = field(default_factory=WatchState)
    threshold_states: dict[str, ThresholdState] = field(default_factory=dict)

    def poll(self, minute: float, **lists: Any) -> dict[str, list]:
        snapshot = Snapshot(INSTANCE, at(minute), **lists)
        result = detect(self.subscriptions, snapshot, self.watch_state, self.threshold_states)
        assert detect(self.subscriptions, snapshot, self.watch_state, self.threshold_states) == result
        for events in result.events.values():
            for event in events:
                assert_payload_valid(event.trigger, event.to_notification())
        self.watch_state = WatchState.from_text(result.watch_state.to_text())
        assert self.watch_state == result.watch_state
        self.threshold_states = {k: ThresholdState.from_text(v.to_text()) for k, v in result.threshold_states.items()}
        return result.events


# --- data source refresh outcomes ----------------------------------------------------------------

def test_first_observation_reports_what_completed_after_creation_then_each_refresh_fires_once():
    ok, failed = sub("dataSourceRefreshSucceeded", "ok", created=-10), sub("dataSourceRefreshFailed", "ko", created=-10)
    p = Poller([ok, failed])
    first = p.poll(0, data_sources=[ds(DS_A, "updated", -5), ds(DS_B, "updateFailed", -10)])
    assert list(first) == ["ok"], "after the creation is news; at the creation time (equal) is not"
    [early] = first["ok"]
    assert early.occurred_at == at(-5)
    seeded = Poller([ok])  # the id a seed-then-observe history gives: nothing doubles
    seeded.poll(-8, data_sources=[ds(DS_A, "updating", -20)])
    assert seeded.poll(0, data_sources=[ds(DS_A, "updated", -5)])["ok"][0].event_id == early.event_id
    assert p.poll(1, data_sources=[ds(DS_A, "updated", -5), ds(DS_B, "updateFailed", -10)]) == {}
    events = p.poll(2, data_sources=[ds(DS_A, "updated", 1.5), ds(DS_B, "updateFailed", -10)])
    assert list(events) == ["ok"]
    [event] = events["ok"]
    payload = event.to_notification()
    assert payload["subjectId"] == DS_A and payload["subjectName"] == "PoS data"
    assert payload["outcome"] == "succeeded" and payload["status"] == "updated"
    assert payload["occurredAt"] == stamp(1.5)
    assert p.poll(3, data_sources=[ds(DS_A, "updated", 1.5), ds(DS_B, "updateFailed", -10)]) == {}


def test_failure_seen_through_updating_fires_each_time_with_distinct_ids():
    p = Poller([sub("dataSourceRefreshFailed")])
    p.poll(0, data_sources=[ds(DS_A, "updated", -5)])
    assert p.poll(1, data_sources=[ds(DS_A, "updating", -5)]) == {}
    first = p.poll(2, data_sources=[ds(DS_A, "updateFailed", -5)])["s1"][0]
    assert first.occurred_at == at(2), "lastRefresh did not change: the poll time is used"
    assert p.poll(3, data_sources=[ds(DS_A, "updateFailed", -5)]) == {}
    p.poll(4, data_sources=[ds(DS_A, "updating", -5)])
    second = p.poll(5, data_sources=[ds(DS_A, "updateFailed", -5)])["s1"][0]
    assert first.event_id != second.event_id


@pytest.mark.parametrize("before, after, fires", [
    (("updated", 0), ("updating", 0), None),
    (("updating", 0), ("updating", 0), None),
    (("updating", 0), ("updateCancelled", 0), None),
    (("updating", 0), ("notUpdated", None), None),
    (("updating", 0), ("updated", 1), "succeeded"),
    (("updating", 0), ("updated", 0), "succeeded"),
    (("updated", 0), ("updated", 1), "succeeded"),
    (("updated", 0), ("updateFailed", 0), "failed"),
    (("updateFailed", 0), ("updateFailed", 1), "failed"),
    (("updateFailed", 0), ("updated", 0), "succeeded"),
    (("updateFailed", 0), ("updateFailed", 0), None),
])
def test_refresh_state_transitions(before, after, fires):
    p = Poller([sub("dataSourceRefreshSucceeded", "succeeded"), sub("dataSourceRefreshFailed", "failed")])
    p.poll(0, data_sources=[ds(DS_A, *before)])
    events = p.poll(1, data_sources=[ds(DS_A, *after)])
    assert list(events) == ([fires] if fires else [])


def test_data_source_parameter_filters_and_any_when_omitted():
    one, every = sub("dataSourceRefreshFailed", "one", dataSourceId=DS_B), sub("dataSourceRefreshFailed", "any")
    p = Poller([one, every])
    p.poll(0, data_sources=[ds(DS_A, "updated", 0), ds(DS_B, "updated", 0)])
    events = p.poll(1, data_sources=[ds(DS_A, "updateFailed", 0), ds(DS_B, "updated", 0)])
    assert list(events) == ["any"]
    events = p.poll(2, data_sources=[ds(DS_A, "updateFailed", 0), ds(DS_B, "updateFailed", 0)])
    assert [e.subject_id for e in events["one"]] == [DS_B] and [e.subject_id for e in events["any"]] == [DS_B]


def test_missing_or_deleted_data_source_never_fires_and_keeps_state_sound():
    p = Poller([sub("dataSourceRefreshSucceeded")])
    p.poll(0, data_sources=[ds(DS_A, "updating", 0), ds(DS_B, "updated", 0)])
    before = p.watch_state
    assert p.poll(1, data_sources=None, jobs=[]) == {}, "data source fetch failed"
    assert p.watch_state.data_sources == before.data_sources
    assert p.watch_state.data_sources_observed_at == before.data_sources_observed_at
    assert p.poll(2, data_sources=[ds(DS_B, "updated", 0)]) == {}, "DS_A deleted"
    assert set(p.watch_state.data_sources) == {DS_B}
    assert p.poll(3, data_sources=[ds(DS_A, "updated", 2), ds(DS_B, "updated", 0)]) == {}, "back: seeds again"
    assert len(p.poll(4, data_sources=[ds(DS_A, "updated", 4), ds(DS_B, "updated", 0)])["s1"]) == 1


def test_new_subscription_on_a_watched_instance_gets_no_old_outcome():
    old = sub("dataSourceRefreshSucceeded", "old", created=-60)
    p = Poller([old])
    p.poll(0, data_sources=[ds(DS_A, "updated", -10), ds(DS_B, "updateFailed", -10)])
    p.subscriptions.append(sub("dataSourceRefreshSucceeded", "new", created=5))
    p.subscriptions.append(sub("dataSourceRefreshFailed", "newFailed", created=5))
    events = p.poll(10, data_sources=[ds(DS_A, "updated", 3), ds(DS_B, "updateFailed", -10)])
    assert list(events) == ["old"], "refresh completed at minute 3, before 'new' subscribed at minute 5"
    events = p.poll(11, data_sources=[ds(DS_A, "updated", 10.5), ds(DS_B, "updateFailed", -10)])
    assert set(events) == {"old", "new"}, "completed after both subscribed"
    p.subscriptions.append(sub("dataSourceRefreshFailed", "latest", created=11.5))
    events = p.poll(12, data_sources=[ds(DS_A, "updated", 10.5), ds(DS_B, "updating", -10)])
    events = p.poll(13, data_sources=[ds(DS_A, "updated", 10.5), ds(DS_B, "updateFailed", -10)])
    assert set(events) == {"newFailed", "latest"}, "both existed at the previous observation"


def test_new_subscription_after_long_unwatched_period_gets_no_backlog():
    p = Poller([sub("segmentThresholdCrossed", "seg", segmentName="S", threshold=5)])
    p.poll(0, data_sources=[ds(DS_A, "updated", -10)], segments=[segment("S", 1)])
    p.poll(60, segments=[segment("S", 1)])
    p.subscriptions.append(sub("dataSourceRefreshSucceeded", "late", created=90))
    assert p.poll(91, data_sources=[ds(DS_A, "updated", 30)], segments=[segment("S", 1)]) == {}


# --- full refresh ---------------------------------------------------------------------------------

def test_full_refresh_scheduled_only_by_default_and_on_demand_when_asked():
    scheduled = sub("fullRefreshCompleted", "sched", created=-3)
    everything = sub("fullRefreshCompleted", "all", created=-3, includeOnDemand=True)
    p = Poller([scheduled, everything])
    assert p.poll(0, jobs=[job("j0", "successful", ended=-5)]) == {}, "ended before the subscriptions"
    jobs = [job("j1", "running"), job("j2", "successful", submission="onDemand", ended=0.5),
            job("j3", "failed", submission=None, ended=0.6), job("j4", "successful", op="ingestion", ended=0.7),
            job("j0", "successful", ended=-5)]
    events = p.poll(1, jobs=jobs)
    assert "sched" not in events
    assert [e.job_id for e in events["all"]] == ["j2", "j3"]
    jobs[0] = job("j1", "successful", ended=1.5)
    events = p.poll(2, jobs=jobs)
    assert [e.job_id for e in events["sched"]] == ["j1"] and [e.job_id for e in events["all"]] == ["j1"]
    assert events["sched"][0].event_id == events["all"][0].event_id, "same fact, same id"
    assert p.poll(3, jobs=jobs) == {}


def test_first_jobs_observation_reports_runs_that_ended_after_creation():
    full, unification = sub("fullRefreshCompleted", "full", created=-3), sub("unificationRefreshCompleted", "u",
                                                                             created=-3)
    merge = (task("m1", "merge", "successful", -1),)
    jobs = [job("old", "successful", ended=-4), job("at", "successful", ended=-3), job("new", "failed", ended=-2),
            job("mj", "successful", op="merge", ended=-1, tasks=merge)]
    p = Poller([full, unification])
    events = p.poll(0, jobs=jobs)
    assert [e.job_id for e in events["full"]] == ["new"] and [e.job_id for e in events["u"]] == ["mj"]
    assert p.poll(1, jobs=jobs) == {}, "reported once"


def test_full_refresh_payload_carries_outcome_task_summary_and_errors():
    p = Poller([sub("fullRefreshCompleted")])
    p.poll(0, jobs=[])
    tasks = (task("t1", "ingestion", "successful", 1), task("t2", "segmentation", "failed", 2, "SegmentError"),
             task("t3", "measures", "skipped"), task("t4", "export", "aborted"), task("t5", "search", "timedOut"))
    [event] = p.poll(5, jobs=[job("j1", "failed", ended=4, tasks=tasks)])["s1"]
    payload = event.to_notification()
    assert payload["outcome"] == "failed" and payload["status"] == "failed" and payload["jobId"] == "j1"
    assert payload["submissionKind"] == "scheduled" and payload["endedAt"] == stamp(4)
    summary = payload["taskSummary"]
    assert {k: summary[k] for k in ("total", "successful", "failed", "cancelled", "skipped", "running")} == {
        "total": 5, "successful": 1, "failed": 2, "cancelled": 1, "skipped": 1, "running": 0}
    assert payload["failedStage"] == "segmentation" and payload["errorMessage"] == "SegmentError happened"
    assert [t["taskId"] for t in summary["failedTasks"]] == ["t2", "t4", "t5"]
    assert summary["failedTasks"][0]["errorCode"] == "SegmentError"
    assert payload["errors"] == [{"errorCode": "SegmentError", "message": "SegmentError happened",
                                  "severity": "error", "culprit": "user"}]


def test_jobs_not_fetched_change_nothing():
    p = Poller([sub("fullRefreshCompleted")])
    p.poll(0, jobs=[])
    state = p.watch_state
    assert p.poll(1, jobs=None) == {} and p.watch_state == state


def test_reported_runs_stay_bounded_and_old_runs_are_not_reported_again():
    p = Poller([sub("fullRefreshCompleted")])
    p.poll(0, jobs=[])
    old = [job(f"old{i:03}", "successful", ended=i / 100) for i in range(MAX_REPORTED + 50)]
    assert len(p.poll(10, jobs=old)["s1"]) == MAX_REPORTED + 50
    assert len(p.watch_state.reported) == MAX_REPORTED
    assert p.poll(11, jobs=old) == {}, "evicted runs are below the horizon"
    assert len(p.poll(12, jobs=[job("new", "successful", ended=11.5)])["s1"]) == 1
    assert len(p.watch_state.to_text()) < 32 * 1024


# --- unification ----------------------------------------------------------------------------------

def unification_job(merge_status: str, job_status: str = "running", ended: float | None = None) -> Job:
    return job("u1", job_status, op="all", submission="onDemand", ended=ended, tasks=(
        task("m1", "map", "successful", 1), task("m2", "map", "skipped", 1), task("x1", "match", "successful", 2),
        task("g1", "merge", merge_status, 3 if merge_status in ("successful", "failed") else None,
             "MergeError" if merge_status == "failed" else None),
        task("s1", "segmentation", "queued")))


def test_unification_fires_when_merge_is_terminal_even_if_the_job_still_runs():
    p = Poller([sub("unificationRefreshCompleted", "uni"), sub("fullRefreshCompleted", "full",
                                                               includeOnDemand=True)])
    p.poll(0, jobs=[])
    assert p.poll(1, jobs=[unification_job("running")]) == {}
    events = p.poll(4, jobs=[unification_job("successful")])
    assert list(events) == ["uni"]
    payload = events["uni"][0].to_notification()
    assert payload["stages"] == {"map": "successful", "match": "successful", "merge": "successful"}
    assert payload["outcome"] == "succeeded" and payload["taskId"] == "g1" and payload["jobId"] == "u1"
    assert payload["endedAt"] == stamp(3)
    events = p.poll(6, jobs=[unification_job("successful", "successful", ended=5)])
    assert list(events) == ["full"], "the job's end is a full refresh, not a second unification"


def test_unification_failure_carries_the_merge_error():
    p = Poller([sub("unificationRefreshCompleted")])
    p.poll(0, jobs=[])
    [event] = p.poll(4, jobs=[unification_job("failed")])["s1"]
    assert event.outcome == "failed" and event.stages.merge == "failed"
    assert [e.error_code for e in event.errors] == ["MergeError"]


def test_unification_without_tasks_uses_a_merge_job_and_ignores_other_jobs():
    p = Poller([sub("unificationRefreshCompleted")])
    p.poll(0, jobs=[])
    events = p.poll(1, jobs=[job("a", "successful", op="merge", ended=0.5), job("b", "successful", op="match",
                                                                                  ended=0.5),
                             job("c", "successful", op="segmentation", ended=0.5,
                                 tasks=(task("t", "segmentation", "successful"),))])
    [event] = events["s1"]
    assert event.job_id == "a" and event.to_notification()["stages"] == {"merge": "successful"}


# --- thresholds -----------------------------------------------------------------------------------

THRESHOLD_CASES = [
    # direction, threshold, observed values (None = missing), expected crossing per observation
    ("above", 100, [90, 100, 101, 150, 100, 101], [None, None, "above", None, None, "above"]),
    ("above", 100, [150, 160, 90], [None, None, None]),
    ("above", 100, [100, 101, 99], [None, "above", None]),
    ("above", 100, [90, None, 110], [None, None, "above"]),
    ("above", 100, [None, 150, 160], [None, None, None]),
    ("above", 0, [0, 1, 0, 0, 3], [None, "above", None, None, "above"]),
    ("below", 100, [110, 100, 99, 50, 100, 99], [None, None, "below", None, None, "below"]),
    ("below", 100, [90, 150], [None, None]),
    ("either", 100, [90, 110, 90, 100, 101, 100, 99], [None, "above", "below", None, "above", None, "below"]),
]


@pytest.mark.parametrize("direction, threshold, values, expected", THRESHOLD_CASES)
def test_segment_threshold_semantics(direction, threshold, values, expected):
    p = Poller([sub("segmentThresholdCrossed", segmentName="HighValue", threshold=threshold, direction=direction)])
    fired, previous = [], None
    for minute, value in enumerate(values):
        listed = [segment("Other", 5)] + ([] if value is None else [segment("HighValue", value)])
        events = p.poll(minute, segments=listed).get("s1", [])
        fired.append(events[0].crossing if events else None)
        if events:
            payload = events[0].to_notification()
            assert (payload["previousValue"], payload["currentValue"], payload["threshold"]) == (
                previous, value, threshold)
            assert payload["direction"] == direction and payload["subjectName"] == "HighValue customers"
        previous = value if value is not None else previous
    assert fired == expected


@pytest.mark.parametrize("direction, threshold, values, expected", THRESHOLD_CASES)
def test_measure_threshold_semantics(direction, threshold, values, expected):
    p = Poller([sub("measureThresholdCrossed", measureName="Revenue", threshold=threshold, direction=direction)])
    fired = []
    for minute, value in enumerate(values):
        events = p.poll(minute, measures=[measure("Revenue", None if value is None else value + 0.0)]).get("s1", [])
        fired.append(events[0].crossing if events else None)
    assert fired == expected


@pytest.mark.parametrize("missing", [
    {"segments": None},
    {"segments": []},
    {"segments": [segment("HighValue", 500, "Running")]},
    {"segments": [segment("HighValue", 500, "CompletedFailure")]},
    {"segments": [segment("HighValue", None)]},
])
def test_missing_segment_observation_neither_fires_nor_touches_state(missing):
    p = Poller([sub("segmentThresholdCrossed", segmentName="HighValue", threshold=100)])
    p.poll(0, segments=[segment("HighValue", 50)])
    state = p.threshold_states["s1"]
    assert p.poll(1, **missing) == {}
    assert p.threshold_states["s1"] == state
    assert p.poll(2, segments=[segment("HighValue", 150)])["s1"][0].previous_value == 50


def test_dimensioned_or_unevaluated_measure_is_a_missing_observation():
    p = Poller([sub("measureThresholdCrossed", measureName="Revenue", threshold=10)])
    p.poll(0, measures=[measure("Revenue", 5)])
    assert p.poll(1, measures=[measure("Revenue", 50, scalar=False)]) == {}
    assert p.poll(2, measures=[measure("Revenue", None)]) == {}
    assert p.threshold_states["s1"].last_value == 5


def test_threshold_event_ids_are_deterministic_and_distinct_per_crossing():
    s = sub("segmentThresholdCrossed", segmentName="S", threshold=10, direction="either")
    state = ThresholdState(last_value=5)
    up = Snapshot(INSTANCE, at(1), segments=[segment("S", 20)])
    first = detect([s], up, WatchState(), {"s1": state})
    again = detect([s], up, WatchState(), {"s1": state})
    assert first.events["s1"][0].event_id == again.events["s1"][0].event_id
    down = detect([s], Snapshot(INSTANCE, at(2), segments=[segment("S", 5)]), WatchState(), first.threshold_states)
    assert down.events["s1"][0].event_id != first.events["s1"][0].event_id
    assert down.threshold_states["s1"].crossings == 2


def test_each_threshold_subscription_sets_its_own_baseline():
    p = Poller([sub("segmentThresholdCrossed", "early", segmentName="S", threshold=10)])
    p.poll(0, segments=[segment("S", 5)])
    p.subscriptions.append(sub("segmentThresholdCrossed", "late", created=0.5, segmentName="S", threshold=10))
    events = p.poll(1, segments=[segment("S", 20)])
    assert list(events) == ["early"], "the late subscription's first observation is its baseline"
    assert p.threshold_states["late"] == ThresholdState(last_value=20)


def test_a_baseline_taken_at_subscribe_makes_the_first_poll_fire():
    at_subscribe = Sub("s1", "segmentThresholdCrossed", {**defaults("segmentThresholdCrossed"), "instanceId": INSTANCE,
                                                          "segmentName": "S", "threshold": 10}, at(-1), baseline=5)
    p = Poller([at_subscribe])
    [event] = p.poll(0, segments=[segment("S", 20)])["s1"]
    assert (event.previous_value, event.current_value, event.crossing) == (5, 20, "above")
    assert p.poll(1, segments=[segment("S", 25)]) == {}


# --- entry point ----------------------------------------------------------------------------------

def test_resources_for_is_the_union_of_the_kinds_needs():
    subs = [sub("dataSourceRefreshFailed"), sub("unificationRefreshCompleted"),
            sub("segmentThresholdCrossed", segmentName="S", threshold=1)]
    assert resources_for(subs) == {"dataSources", "status", "jobs", "segments"}
    assert resources_for([]) == frozenset()


def test_detect_refuses_foreign_or_unknown_subscriptions():
    snapshot = Snapshot(INSTANCE, at(0))
    with pytest.raises(ValueError, match="not on instance"):
        detect([Sub("x", "dataSourceRefreshFailed", {}, at(0), instance_id="other")], snapshot, WatchState(), {})
    with pytest.raises(ValueError, match="unknown trigger kind"):
        detect([Sub("x", "retired", {}, at(0))], snapshot, WatchState(), {})


def test_watch_state_serializes_compactly_and_rejects_garbage():
    marks = [ds(f"1a2b3c4d-0000-4000-8000-{i:012}", "updated", i, name=f"Source{i}") for i in range(100)]
    p = Poller([sub("dataSourceRefreshSucceeded")])
    p.poll(0, data_sources=marks, jobs=[])
    p.poll(1, jobs=[job(f"3f2e1d0c-0000-4000-8000-{i:012}", "successful", ended=i / 1000)
                    for i in range(MAX_REPORTED)])
    text = p.watch_state.to_text()
    assert len(text.encode("utf-8")) < 32 * 1024
    assert WatchState.from_text(text) == p.watch_state
    for garbage in ("", "[]", "{}", '{"v":2}', '{"v":1,"ds":{"x":[1,"updated",0]},"dsAt":null,"runs":[],'
                                                '"horizon":null,"jobsAt":null}'):
        with pytest.raises(WatchStateError):
            WatchState.from_text(garbage)


def test_a_later_crossing_after_the_state_restarted_gets_a_new_id():
    """The crossing counter restarts with the state (subscription re-enabled, instance re-watched,
    crash before commit); the observation in the id keeps a later, real crossing from being taken
    for a duplicate of the first."""
    s = sub("segmentThresholdCrossed", segmentName="S", threshold=10)
    first = detect([s], Snapshot(INSTANCE, at(1), segments=[segment("S", 20, evaluated=1)]), WatchState(),
                   {"s1": ThresholdState(last_value=5)})
    later = detect([s], Snapshot(INSTANCE, at(9), segments=[segment("S", 20, evaluated=9)]), WatchState(),
                   {"s1": ThresholdState(last_value=5)})
    assert first.threshold_states["s1"].crossings == later.threshold_states["s1"].crossings == 1
    assert first.events["s1"][0].event_id != later.events["s1"][0].event_id


def test_unification_outcome_names_the_failed_stage_and_a_run_that_never_started_is_none():
    p = Poller([sub("unificationRefreshCompleted")])
    p.poll(0, jobs=[])
    failed_match = (task("m1", "map", "successful", 1), task("x1", "match", "failed", 2, "MatchError"),
                    task("g1", "merge", "skipped", 2))
    never_ran = (task("i1", "ingestion", "failed", 1, "IngestError"), task("m2", "map", "skipped", 1),
                 task("x2", "match", "skipped", 1), task("g2", "merge", "skipped", 1))
    events = p.poll(5, jobs=[job("j1", "failed", ended=2, tasks=failed_match),
                             job("j2", "failed", ended=1, tasks=never_ran)])["s1"]
    [payload] = [e.to_notification() for e in events]
    assert (payload["jobId"], payload["outcome"], payload["failedStage"]) == ("j1", "failed", "match")
    assert payload["stages"] == {"map": "successful", "match": "failed", "merge": "skipped"}
    assert payload["errorCode"] == "MatchError" and payload["errors"][0]["errorCode"] == "MatchError"
