"""Detection: each refresh in the job history fires once, thresholds are edge-triggered, old outcomes never
reach new subscriptions."""
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Sequence

import pytest
from jsonschema import Draft4Validator

from ciconnector.customer_insights import DataSource, Job, Measure, Segment
from ciconnector.trigger_kinds import (
    CATALOG,
    JobCursor,
    Snapshot,
    ThresholdState,
    detect,
    resources_for,
    subject_key,
    subject_values,
)
from ciconnector.trigger_kinds.detection import refreshes_needing_names
from ciconnector.trigger_kinds.job_history import advance, read_back, start_floor
from ciconnector.trigger_kinds.observations import Changes, identify, observe_outcomes
from tests.unit.timeline import at, stamp

INSTANCE = "6f0e2a1c-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
DS_A = "1a2b3c4d-0000-4000-8000-00000000000a"
DS_B = "1a2b3c4d-0000-4000-8000-00000000000b"
DS_C = "1a2b3c4d-0000-4000-8000-00000000000c"


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


def ds(ds_id: str, name: str, friendly: str | None = None) -> DataSource:
    return DataSource.from_api({"dataSourceMetadata": {"dataSourceId": ds_id, "name": name,
                                                       "friendlyName": friendly or f"{name} data"}})


DATA_SOURCES = [ds(DS_A, "PoS"), ds(DS_B, "Web"), ds(DS_C, "Loyalty")]


def error(code: str) -> dict:
    return {"errorCode": code, "message": f"{code} happened", "resultSeverity": "error", "exceptionCulprit": "user"}


def task(tid: str, op: str, status: str, ended: float | None = None, err: str | None = None,
         name: str | None = None, errors: Sequence[str] = ()) -> dict:
    return {"taskId": tid, "operationType": op, "taskStatus": status, "friendlyName": name or f"{op} task",
            **({"endTimestamp": stamp(ended)} if ended is not None else {}),
            **({"ciError": error(err)} if err else {}), **({"ciErrors": [error(e) for e in errors]} if errors else {})}


def job(jid: str, status: str, op: str = "all", submission: str | None = "scheduled", ended: float | None = None,
        tasks: Sequence[dict] = (), submitted: float = -30, ids: Sequence[str] = ()) -> Job:
    return Job.from_api({"jobId": jid, "jobStatus": status, "operationType": op, "jobSubmissionKind": submission,
                         "submittedTimestamp": stamp(submitted),
                         **({"endTimestamp": stamp(ended)} if ended is not None else {}),
                         "tasks": list(tasks), "idList": list(ids)})


def refresh(jid: str, status: str, ended: float | None, data_source: str = DS_A, err: str | None = None,
            name: str = "PoS data", submitted: float | None = None) -> Job:
    """An on-demand ingestion job of one data source, its task ``t-<jid>``."""
    job_status = status if ended is not None else "running"
    return job(jid, job_status, op="ingestion", submission="onDemand", ended=ended,
               submitted=submitted if submitted is not None else (ended - 1 if ended is not None else -1),
               ids=[data_source], tasks=[task(f"t-{jid}", "ingestion", status, ended, err, name)])


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
    """Runs poll after poll as the adapter does: reads the job history back to the cursor, finds the new
    outcomes, identifies data sources when needed, detects, and stores cursor and states through JSON."""

    subscriptions: list[Sub]
    jobs: list[Job] = field(default_factory=list)
    """CI's job history, newest first (a test inserts at 0 what CI submits)."""
    data_sources: list[DataSource] = field(default_factory=lambda: list(DATA_SOURCES))
    cursor: JobCursor = field(default_factory=JobCursor)
    threshold_states: dict[str, ThresholdState] = field(default_factory=dict)
    data_source_reads: int = 0

    def poll(self, minute: float, *, jobs: bool = True, **lists: Any) -> dict[str, list]:
        now = at(minute)
        read, changes, keys = None, Changes(), []
        floor = start_floor(self.cursor, (s.created_at for s in self.subscriptions))
        if jobs and floor is not None:
            read = read_back(lambda top: self.jobs[:top], self.cursor, floor, now=now)
            changes, keys = observe_outcomes(read.jobs, self.cursor.reported)
            if refreshes_needing_names(changes, self.subscriptions):
                self.data_source_reads += 1
                changes = identify(changes, self.data_sources)
        snapshot = Snapshot(INSTANCE, now, jobs=read.jobs if read else None, **lists)
        result = detect(self.subscriptions, snapshot, changes, self.threshold_states)
        assert detect(self.subscriptions, snapshot, changes, self.threshold_states) == result
        for events in result.events.values():
            for event in events:
                assert_payload_valid(event.trigger, event.to_notification())
        if read is not None:
            self.cursor = JobCursor.from_dict(json.loads(json.dumps(advance(self.cursor, read, keys,
                                                                            now=now).to_dict())))
        self.threshold_states = {k: ThresholdState.from_dict(json.loads(json.dumps(v.to_dict())))
                                 for k, v in result.threshold_states.items()}
        return result.events

    def add(self, *jobs: Job) -> None:
        """CI submits ``jobs`` (oldest first)."""
        for j in jobs:
            self.jobs.insert(0, j)

    def replace(self, new: Job) -> None:
        """A listed job changes (its status, tasks, end)."""
        [i] = [i for i, j in enumerate(self.jobs) if j.job_id == new.job_id]
        self.jobs[i] = new


def ids_of(events: Mapping[str, list], sid: str) -> list[str | None]:
    return [e.task_id for e in events.get(sid, [])]


# --- data source refresh outcomes ----------------------------------------------------------------

def test_two_refreshes_of_one_data_source_between_polls_are_two_events():
    p = Poller([sub("dataSourceRefreshSucceeded", "ok"), sub("dataSourceRefreshFailed", "ko")])
    assert p.poll(0) == {}
    p.add(refresh("j1", "failed", 2, err="SourceDown"), refresh("j2", "successful", 5),
          refresh("j3", "successful", 8))
    events = p.poll(10)
    assert ids_of(events, "ko") == ["t-j1"], "the failure is reported though a success followed it"
    assert ids_of(events, "ok") == ["t-j2", "t-j3"]
    first, second = events["ok"]
    assert first.event_id != second.event_id
    assert (first.occurred_at, second.occurred_at) == (at(5), at(8))
    assert p.poll(11) == {}, "each refresh fires once"


def test_two_failures_in_a_row_are_both_reported():
    p = Poller([sub("dataSourceRefreshFailed")])
    p.poll(0)
    p.add(refresh("j1", "failed", 2, err="SourceDown"), refresh("j2", "timedOut", 4, err="Slow"))
    events = p.poll(5)["s1"]
    assert [(e.task_id, e.status, e.outcome) for e in events] == [("t-j1", "failed", "failed"),
                                                                   ("t-j2", "timedOut", "failed")]
    p.add(refresh("j3", "failed", 6, err="SourceDown"))
    [third] = p.poll(7)["s1"]
    assert third.task_id == "t-j3" and third.event_id not in {e.event_id for e in events}


def test_a_refresh_running_at_one_poll_is_reported_when_it_ends():
    p = Poller([sub("dataSourceRefreshSucceeded")])
    p.poll(0)
    p.add(refresh("j1", "running", None, submitted=0.5))
    assert p.poll(1) == {}
    p.add(*(refresh(f"n{i}", "successful", 1 + i / 10, submitted=0.5 + i / 10) for i in range(1, 5)))
    p.replace(refresh("j1", "successful", 3, submitted=0.5))
    assert ids_of(p.poll(4), "s1") == ["t-n1", "t-n2", "t-n3", "t-n4", "t-j1"], "ordered by completion"


def test_refresh_payload_names_the_data_source_job_task_and_times():
    p = Poller([sub("dataSourceRefreshFailed")])
    p.poll(0)
    p.add(refresh("j1", "failed", 2, err="SourceDown"))
    payload = p.poll(3)["s1"][0].to_notification()
    assert payload["subjectType"] == "dataSource" and payload["subjectId"] == DS_A
    assert payload["subjectName"] == "PoS data" and payload["status"] == "failed" and payload["outcome"] == "failed"
    assert (payload["jobId"], payload["taskId"], payload["submissionKind"]) == ("j1", "t-j1", "onDemand")
    assert payload["endedAt"] == payload["occurredAt"] == stamp(2)
    assert payload["failedStage"] == "ingestion" and payload["errorCode"] == "SourceDown"


def test_refresh_errors_come_from_the_ingestion_task():
    p = Poller([sub("dataSourceRefreshFailed")])
    p.poll(0)
    p.add(job("full", "failed", ended=5, submitted=1, tasks=[
        task("ti1", "ingestion", "failed", 2, err="Single", name="PoS data"),
        task("ti2", "ingestion", "failed", 3, err="Ignored", name="Web data", errors=("First", "Second")),
        task("ti3", "ingestion", "successful", 3, name="Loyalty data"),
        task("ts", "segmentation", "failed", 4, err="SegmentError")]))
    first, second = p.poll(6)["s1"]
    assert [e.error_code for e in first.errors] == ["Single"]
    assert [e.error_code for e in second.errors] == ["First", "Second"], "ciErrors lists them all"
    payload = second.to_notification()
    assert payload["errorCode"] == "First" and payload["errorMessage"] == "First happened"
    assert [e["errorCode"] for e in payload["errors"]] == ["First", "Second"]


def test_a_skipped_ingestion_task_is_no_outcome():
    p = Poller([sub("dataSourceRefreshSucceeded", "ok"), sub("dataSourceRefreshFailed", "ko")])
    p.poll(0)
    p.add(refresh("j1", "skipped", 2))
    assert p.poll(3) == {}
    assert not observe_outcomes(p.jobs, frozenset())[0].refreshes


@pytest.mark.parametrize("status", ["aborted", "deleted"])
def test_a_cancelled_refresh_is_neither_a_success_nor_a_failure(status):
    p = Poller([sub("dataSourceRefreshSucceeded", "ok"), sub("dataSourceRefreshFailed", "ko")])
    p.poll(0)
    p.add(refresh("j1", status, 2))
    [outcome] = observe_outcomes(p.jobs, frozenset())[0].refreshes
    assert outcome.outcome == "cancelled"
    assert p.poll(3) == {}


# --- which data source -----------------------------------------------------------------------------

def test_the_data_source_of_an_ingestion_job_is_its_single_id():
    job_ = refresh("j1", "successful", 2, data_source=DS_B.upper(), name="Renamed task")
    [outcome] = observe_outcomes([job_], frozenset())[0].refreshes
    assert outcome.data_source_id == DS_B
    several = job("j2", "successful", op="ingestion", ended=2, ids=[DS_A, DS_B],
                  tasks=[task("t1", "ingestion", "successful", 2, name="Web data")])
    [outcome] = observe_outcomes([several], frozenset())[0].refreshes
    assert outcome.data_source_id is None, "several ids: the task's name tells which"
    [resolved] = identify(Changes(refreshes=(outcome,)), DATA_SOURCES).refreshes
    assert resolved.data_source_id == DS_B


def test_a_full_refresh_identifies_data_sources_by_the_tasks_friendly_name():
    listed = [*DATA_SOURCES, ds("1a2b3c4d-0000-4000-8000-0000000000d1", "Shared"),
              ds("1a2b3c4d-0000-4000-8000-0000000000d2", "Other", friendly="Shared")]
    full = job("full", "successful", ended=5, submitted=1, tasks=[
        task("t1", "ingestion", "successful", 2, name="PoS data"),  # DS_A's friendly name
        task("t2", "ingestion", "successful", 2, name="WEB"),  # DS_B's name, another case
        task("t3", "ingestion", "successful", 2, name="Shared"),  # one's name, another's friendly name
        task("t4", "ingestion", "successful", 2, name="Gone")])
    changes, _ = observe_outcomes([full], frozenset())
    assert all(r.data_source_id is None for r in changes.refreshes)
    resolved = identify(changes, listed).refreshes
    assert [(r.data_source_id, r.data_source_name) for r in resolved] == [
        (DS_A, "PoS"), (DS_B, "Web"), (None, None), (None, None)], "ambiguous or unknown names stay unidentified"


def test_an_identified_refresh_is_not_renamed_by_its_tasks_name():
    """A job naming its data source by id keeps it, even when the task's name is another source's."""
    [outcome] = observe_outcomes([refresh("j1", "successful", 2, data_source=DS_C, name="PoS data")],
                                 frozenset())[0].refreshes
    listed = [ds(DS_A, "PoS")]  # DS_C is not listed (deleted since)
    [resolved] = identify(Changes(refreshes=(outcome,)), listed).refreshes
    assert (resolved.data_source_id, resolved.data_source_name) == (DS_C, None)


@pytest.mark.parametrize("wanted", [DS_A, DS_A.upper(), "PoS", "pos"])
def test_a_subscription_naming_a_data_source_gets_only_its_events(wanted):
    p = Poller([sub("dataSourceRefreshSucceeded", "one", dataSourceId=wanted),
                sub("dataSourceRefreshSucceeded", "any")])
    p.poll(0)
    p.add(refresh("j1", "successful", 1, data_source=DS_A), refresh("j2", "successful", 2, data_source=DS_B,
                                                                     name="Web data"))
    events = p.poll(2.5)  # jobs naming their data source by id only
    assert [(e.task_id, e.subject_id) for e in events["one"]] == [("t-j1", DS_A)]
    assert [e.subject_id for e in events["any"]] == [DS_A, DS_B]
    p.add(job("full", "successful", ended=4, submitted=3, tasks=[
        task("ta", "ingestion", "successful", 3, name="PoS data"),
        task("tb", "ingestion", "successful", 3.5, name="Web data")]))
    events = p.poll(5)  # a full refresh naming them by the tasks' names
    assert [(e.task_id, e.subject_id) for e in events["one"]] == [("ta", DS_A)]
    assert [e.subject_id for e in events["any"]] == [DS_A, DS_B]
    assert {e.subject_name for e in events["any"]} == {"PoS data", "Web data"}


def test_the_data_source_list_is_read_only_for_new_refreshes():
    p = Poller([sub("dataSourceRefreshSucceeded", dataSourceId="PoS")])
    p.poll(0)
    p.add(job("seg", "successful", op="segmentation", ended=1, submitted=0.5))
    assert p.poll(2) == {} and p.data_source_reads == 0
    p.add(refresh("j1", "successful", 3))
    assert len(p.poll(4)["s1"]) == 1 and p.data_source_reads == 1
    assert p.poll(5) == {} and p.data_source_reads == 1


# --- news for which subscription -----------------------------------------------------------------

def test_an_outcome_completed_exactly_at_the_creation_is_not_news():
    p = Poller([sub("dataSourceRefreshSucceeded", "s1", created=0)])
    p.add(refresh("j1", "successful", 0), refresh("j2", "successful", 0.01))
    assert ids_of(p.poll(1), "s1") == ["t-j2"], "strictly after the creation"


def test_a_fresh_subscription_gets_what_completed_after_it_before_the_first_poll_and_nothing_older():
    p = Poller([sub("dataSourceRefreshSucceeded", created=-10)])
    p.add(refresh("old", "successful", -200, submitted=-230), refresh("j1", "successful", -9, submitted=-15))
    assert ids_of(p.poll(0), "s1") == ["t-j1"], "the refresh that started before the subscription is its own"


def test_an_undated_task_falls_back_to_its_jobs_dates():
    undated_task = [task("t1", "ingestion", "successful", None, name="PoS data")]
    p = Poller([sub("dataSourceRefreshSucceeded", "before", created=3),
                sub("dataSourceRefreshSucceeded", "after", created=6)])
    p.add(job("j1", "successful", op="ingestion", ended=5, submitted=2, ids=[DS_A], tasks=undated_task))
    events = p.poll(7)
    assert list(events) == ["before"] and events["before"][0].occurred_at == at(5), "the job's end"
    assert events["before"][0].to_notification()["endedAt"] == stamp(5)

    q = Poller([sub("dataSourceRefreshSucceeded", "before", created=3),
                sub("dataSourceRefreshSucceeded", "at", created=4)])
    q.add(job("j1", "successful", op="ingestion", submitted=4, ids=[DS_A], tasks=undated_task))
    events = q.poll(7)
    assert list(events) == ["before"], "neither ends: the job's submission (a task ends after it)"
    assert events["before"][0].occurred_at == at(7), "no CI time: the poll's"


def test_a_new_subscription_on_a_watched_instance_gets_no_old_outcome():
    p = Poller([sub("dataSourceRefreshSucceeded", "old", created=-60)])
    p.poll(0)
    p.subscriptions.append(sub("dataSourceRefreshSucceeded", "new", created=5))
    p.add(refresh("j1", "successful", 3), refresh("j2", "successful", 7))
    events = p.poll(10)
    assert ids_of(events, "old") == ["t-j1", "t-j2"] and ids_of(events, "new") == ["t-j2"]


def test_jobs_not_fetched_change_nothing():
    p = Poller([sub("fullRefreshCompleted")])
    p.poll(0)
    cursor = p.cursor
    p.add(job("j1", "successful", ended=1, submitted=0.5))
    assert p.poll(1, jobs=False) == {} and p.cursor == cursor
    assert len(p.poll(2)["s1"]) == 1


# --- full refresh ---------------------------------------------------------------------------------

def test_full_refresh_scheduled_only_by_default_and_on_demand_when_asked():
    scheduled = sub("fullRefreshCompleted", "sched", created=-3)
    everything = sub("fullRefreshCompleted", "all", created=-3, includeOnDemand=True)
    p = Poller([scheduled, everything])
    p.add(job("j0", "successful", ended=-5, submitted=-10))
    assert p.poll(0) == {}, "ended before the subscriptions"
    p.add(job("j1", "running", submitted=0.1), job("j2", "successful", submission="onDemand", ended=0.5, submitted=0.2),
          job("j3", "failed", submission=None, ended=0.6, submitted=0.3),
          job("j4", "successful", op="ingestion", ended=0.7, submitted=0.4))
    events = p.poll(1)
    assert "sched" not in events
    assert [e.job_id for e in events["all"]] == ["j2", "j3"]
    p.replace(job("j1", "successful", ended=1.5, submitted=0.1))
    events = p.poll(2)
    assert [e.job_id for e in events["sched"]] == ["j1"] and [e.job_id for e in events["all"]] == ["j1"]
    assert events["sched"][0].event_id == events["all"][0].event_id, "same fact, same id"
    assert p.poll(3) == {}


def test_first_poll_reports_runs_that_ended_after_creation():
    full, unification = sub("fullRefreshCompleted", "full", created=-3), sub("unificationRefreshCompleted", "u",
                                                                             created=-3)
    merge = [task("m1", "merge", "successful", -1)]
    p = Poller([full, unification])
    p.add(job("old", "successful", ended=-4), job("at", "successful", ended=-3), job("new", "failed", ended=-2),
          job("mj", "successful", op="merge", ended=-1, tasks=merge))
    events = p.poll(0)
    assert [e.job_id for e in events["full"]] == ["new"] and [e.job_id for e in events["u"]] == ["mj"]
    assert p.poll(1) == {}, "reported once"


def test_full_refresh_payload_carries_outcome_task_summary_and_errors():
    p = Poller([sub("fullRefreshCompleted")])
    p.poll(0)
    tasks = (task("t1", "ingestion", "successful", 1), task("t2", "segmentation", "failed", 2, "SegmentError"),
             task("t3", "measures", "skipped"), task("t4", "export", "aborted"), task("t5", "search", "timedOut"))
    p.add(job("j1", "failed", ended=4, submitted=0.5, tasks=tasks))
    [event] = p.poll(5)["s1"]
    payload = event.to_notification()
    assert payload["outcome"] == "failed" and payload["status"] == "failed" and payload["jobId"] == "j1"
    assert payload["submissionKind"] == "scheduled" and payload["endedAt"] == stamp(4)
    assert payload["submittedAt"] == stamp(0.5)
    summary = payload["taskSummary"]
    assert {k: summary[k] for k in ("total", "successful", "failed", "cancelled", "skipped", "running")} == {
        "total": 5, "successful": 1, "failed": 2, "cancelled": 1, "skipped": 1, "running": 0}
    assert payload["failedStage"] == "segmentation" and payload["errorMessage"] == "SegmentError happened"
    assert [t["taskId"] for t in summary["failedTasks"]] == ["t2", "t4", "t5"]
    assert summary["failedTasks"][0]["errorCode"] == "SegmentError"
    assert payload["errors"] == [{"errorCode": "SegmentError", "message": "SegmentError happened",
                                  "severity": "error", "culprit": "user"}]


# --- unification ----------------------------------------------------------------------------------

def unification_job(merge_status: str, job_status: str = "running", ended: float | None = None) -> Job:
    return job("u1", job_status, op="all", submission="onDemand", ended=ended, submitted=0.5, tasks=(
        task("m1", "map", "successful", 1), task("m2", "map", "skipped", 1), task("x1", "match", "successful", 2),
        task("g1", "merge", merge_status, 3 if merge_status in ("successful", "failed") else None,
             "MergeError" if merge_status == "failed" else None),
        task("s1", "segmentation", "queued")))


def test_unification_fires_when_merge_is_terminal_even_if_the_job_still_runs():
    p = Poller([sub("unificationRefreshCompleted", "uni"), sub("fullRefreshCompleted", "full",
                                                               includeOnDemand=True)])
    p.poll(0)
    p.add(unification_job("running"))
    assert p.poll(1) == {}
    p.replace(unification_job("successful"))
    events = p.poll(4)
    assert list(events) == ["uni"]
    payload = events["uni"][0].to_notification()
    assert payload["stages"] == {"map": "successful", "match": "successful", "merge": "successful"}
    assert payload["outcome"] == "succeeded" and payload["taskId"] == "g1" and payload["jobId"] == "u1"
    assert payload["endedAt"] == stamp(3)
    p.replace(unification_job("successful", "successful", ended=5))
    events = p.poll(6)
    assert list(events) == ["full"], "the job's end is a full refresh, not a second unification"


def test_unification_failure_carries_the_merge_error():
    p = Poller([sub("unificationRefreshCompleted")])
    p.poll(0)
    p.add(unification_job("failed"))
    [event] = p.poll(4)["s1"]
    assert event.outcome == "failed" and event.stages.merge == "failed" and event.failed_stage == "merge"
    assert [e.error_code for e in event.errors] == ["MergeError"]


def test_unification_without_tasks_uses_a_merge_job_and_ignores_other_jobs():
    p = Poller([sub("unificationRefreshCompleted")])
    p.poll(0)
    p.add(job("a", "successful", op="merge", ended=0.5, submitted=0.1),
          job("b", "successful", op="match", ended=0.5, submitted=0.2),
          job("c", "successful", op="segmentation", ended=0.5, submitted=0.3,
              tasks=(task("t", "segmentation", "successful"),)))
    [event] = p.poll(1)["s1"]
    assert event.job_id == "a" and event.to_notification()["stages"] == {"merge": "successful"}


def test_unification_outcome_names_the_failed_stage_and_a_run_that_never_started_is_none():
    p = Poller([sub("unificationRefreshCompleted")])
    p.poll(0)
    failed_match = (task("m1", "map", "successful", 1), task("x1", "match", "failed", 2, "MatchError"),
                    task("g1", "merge", "skipped", 2))
    never_ran = (task("i1", "ingestion", "failed", 1, "IngestError"), task("m2", "map", "skipped", 1),
                 task("x2", "match", "skipped", 1), task("g2", "merge", "skipped", 1))
    p.add(job("j1", "failed", ended=2, submitted=0.5, tasks=failed_match),
          job("j2", "failed", ended=1, submitted=0.6, tasks=never_ran))
    events = p.poll(5)["s1"]
    [payload] = [e.to_notification() for e in events]
    assert (payload["jobId"], payload["outcome"], payload["failedStage"]) == ("j1", "failed", "match")
    assert payload["stages"] == {"map": "successful", "match": "failed", "merge": "skipped"}
    assert payload["errorCode"] == "MatchError" and payload["errors"][0]["errorCode"] == "MatchError"


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
        events = p.poll(minute, jobs=False, segments=listed).get("s1", [])
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
        events = p.poll(minute, jobs=False,
                        measures=[measure("Revenue", None if value is None else value + 0.0)]).get("s1", [])
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


def test_subject_key_and_values():
    seg = sub("segmentThresholdCrossed", segmentName="HighValue", threshold=1)
    mea = sub("measureThresholdCrossed", measureName="Revenue", threshold=1)
    assert subject_key(seg) == "segment:HighValue" and subject_key(mea) == "measure:Revenue"
    assert subject_key(sub("fullRefreshCompleted")) is None
    assert subject_key(Sub("x", "retired", {}, at(0))) is None
    snapshot = Snapshot(INSTANCE, at(0), segments=[segment("HighValue", 7), segment("Failed", 9, "CompletedFailure")],
                        measures=[measure("Revenue", 2.5), measure("ByRegion", 3, scalar=False)])
    keys = ["segment:HighValue", "segment:Failed", "segment:Gone", "measure:Revenue", "measure:ByRegion", "other:x"]
    assert subject_values(snapshot, keys) == {"segment:HighValue": 7, "measure:Revenue": 2.5}
    assert subject_values(Snapshot(INSTANCE, at(0)), keys) == {}


def test_detect_without_a_stored_state_starts_from_the_subscriptions_baseline():
    s = Sub("s1", "segmentThresholdCrossed", {**defaults("segmentThresholdCrossed"), "instanceId": INSTANCE,
                                              "segmentName": "S", "threshold": 10}, at(-1), baseline=5)
    snapshot = Snapshot(INSTANCE, at(0), segments=[segment("S", 20)])
    [event] = detect([s], snapshot, Changes(), {}).events["s1"]
    assert (event.previous_value, event.current_value, event.crossing) == (5, 20, "above")
    stored = detect([s], snapshot, Changes(), {"s1": ThresholdState(last_value=15, crossings=1)})
    assert stored.events == {}, "a stored state wins over the baseline"
    assert stored.threshold_states["s1"] == ThresholdState(last_value=20, crossings=1)
    unknown = detect([sub("segmentThresholdCrossed", segmentName="S", threshold=10)], snapshot, Changes(), {})
    assert unknown.events == {} and unknown.threshold_states["s1"] == ThresholdState(last_value=20)


def test_a_baseline_taken_at_subscribe_makes_the_first_poll_fire_once():
    at_subscribe = Sub("s1", "segmentThresholdCrossed", {**defaults("segmentThresholdCrossed"), "instanceId": INSTANCE,
                                                          "segmentName": "S", "threshold": 10}, at(-1), baseline=5)
    p = Poller([at_subscribe])
    [event] = p.poll(0, segments=[segment("S", 20)])["s1"]
    assert (event.previous_value, event.current_value, event.crossing) == (5, 20, "above")
    assert p.poll(1, segments=[segment("S", 25)]) == {}


def test_each_threshold_subscription_sets_its_own_baseline():
    p = Poller([sub("segmentThresholdCrossed", "early", segmentName="S", threshold=10)])
    p.poll(0, segments=[segment("S", 5)])
    p.subscriptions.append(sub("segmentThresholdCrossed", "late", created=0.5, segmentName="S", threshold=10))
    events = p.poll(1, segments=[segment("S", 20)])
    assert list(events) == ["early"], "the late subscription's first observation is its baseline"
    assert p.threshold_states["late"] == ThresholdState(last_value=20)


def test_threshold_event_ids_are_deterministic_and_distinct_per_crossing():
    s = sub("segmentThresholdCrossed", segmentName="S", threshold=10, direction="either")
    state = ThresholdState(last_value=5)
    up = Snapshot(INSTANCE, at(1), segments=[segment("S", 20)])
    first = detect([s], up, Changes(), {"s1": state})
    again = detect([s], up, Changes(), {"s1": state})
    assert first.events["s1"][0].event_id == again.events["s1"][0].event_id
    down = detect([s], Snapshot(INSTANCE, at(2), segments=[segment("S", 5)]), Changes(), first.threshold_states)
    assert down.events["s1"][0].event_id != first.events["s1"][0].event_id
    assert down.threshold_states["s1"].crossings == 2


def test_a_later_crossing_after_the_state_restarted_gets_a_new_id():
    """The crossing counter restarts with the state (subscription re-enabled, instance re-watched,
    crash before commit); the observation in the id keeps a later, real crossing from being taken
    for a duplicate of the first."""
    s = sub("segmentThresholdCrossed", segmentName="S", threshold=10)
    first = detect([s], Snapshot(INSTANCE, at(1), segments=[segment("S", 20, evaluated=1)]), Changes(),
                   {"s1": ThresholdState(last_value=5)})
    later = detect([s], Snapshot(INSTANCE, at(9), segments=[segment("S", 20, evaluated=9)]), Changes(),
                   {"s1": ThresholdState(last_value=5)})
    assert first.threshold_states["s1"].crossings == later.threshold_states["s1"].crossings == 1
    assert first.events["s1"][0].event_id != later.events["s1"][0].event_id


# --- every kind, determinism, entry point ---------------------------------------------------------

def every_kind() -> list[Sub]:
    return [sub("dataSourceRefreshFailed", "dsFailed"), sub("dataSourceRefreshSucceeded", "dsOk"),
            sub("segmentThresholdCrossed", "seg", segmentName="S", threshold=10),
            sub("measureThresholdCrossed", "mea", measureName="Revenue", threshold=10),
            sub("fullRefreshCompleted", "full"), sub("unificationRefreshCompleted", "uni")]


def busy_history() -> list[Job]:
    return [job("full", "failed", ended=4, submitted=1, tasks=[
        task("ti", "ingestion", "failed", 2, name="Web data", errors=("WebDown",)),
        task("tm", "map", "successful", 2.5), task("tx", "match", "successful", 3),
        task("tg", "merge", "successful", 3.5), task("ts", "segmentation", "failed", 3.8, err="SegmentError")]),
        refresh("j2", "successful", 0.8, submitted=0.2), refresh("j1", "failed", 0.5, err="SourceDown",
                                                                  submitted=0.1)]


def run_every_kind() -> dict[str, list]:
    p = Poller(every_kind(), jobs=busy_history())
    p.subscriptions[2] = Sub(**{**p.subscriptions[2].__dict__, "baseline": 5})
    p.subscriptions[3] = Sub(**{**p.subscriptions[3].__dict__, "baseline": 5})
    return p.poll(5, segments=[segment("S", 20)], measures=[measure("Revenue", 20)])


def test_every_kind_sends_a_payload_its_schema_accepts():
    events = run_every_kind()
    assert {e.trigger for found in events.values() for e in found} == set(CATALOG)
    for s in every_kind():  # the Poller validated the real ones; the samples too
        kind = CATALOG[s.trigger_kind]
        sample = kind.sample_event(INSTANCE, s.parameters, at(0))
        assert sample.is_test
        assert_payload_valid(kind.id, sample.to_notification())


def test_the_same_inputs_give_the_same_event_ids():
    first, second = run_every_kind(), run_every_kind()
    assert {k: [e.event_id for e in v] for k, v in first.items()} == {
        k: [e.event_id for e in v] for k, v in second.items()}
    assert first == second
    ids = [e.event_id for found in first.values() for e in found]
    assert len(ids) == len(set(ids)), "different facts, different ids"


def test_resources_for_is_the_union_of_the_kinds_needs():
    subs = [sub("dataSourceRefreshFailed"), sub("unificationRefreshCompleted"),
            sub("segmentThresholdCrossed", segmentName="S", threshold=1)]
    assert resources_for(subs) == {"jobs", "segments"}
    assert resources_for([]) == frozenset()


def test_detect_refuses_foreign_or_unknown_subscriptions():
    snapshot = Snapshot(INSTANCE, at(0))
    with pytest.raises(ValueError, match="not on instance"):
        detect([Sub("x", "dataSourceRefreshFailed", {}, at(0), instance_id="other")], snapshot, Changes(), {})
    with pytest.raises(ValueError, match="unknown trigger kind"):
        detect([Sub("x", "retired", {}, at(0))], snapshot, Changes(), {})
