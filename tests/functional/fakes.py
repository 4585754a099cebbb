"""Fakes for the functional tests: an in-memory CI instance and a scripted callback receiver."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ciconnector.customer_insights import (
    CustomerInsightsError,
    DataSource,
    Job,
    Measure,
    NotFoundError,
    Segment,
)
from ciconnector.delivery.sender import CallbackAnswer

INSTANCE = "6f0e2a1c-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
DATA_SOURCE = "1a2b3c4d-0000-4000-8000-00000000000a"
STAMP = "2026-11-25T10:00:00Z"


@dataclass
class FakeCI:
    """One CI instance whose lists a test changes between polls; counts calls and can fail a list."""

    instance_id: str = INSTANCE
    data_sources: list[dict[str, Any]] = field(default_factory=lambda: [
        {"dataSourceId": DATA_SOURCE, "name": "PoS", "friendlyName": "PoS data", "refreshState": "updated",
         "lastRefresh": STAMP}])
    jobs: list[dict[str, Any]] = field(default_factory=list)
    segment_counts: dict[str, int] = field(default_factory=lambda: {"HighValue": 10})
    measures: dict[str, float] = field(default_factory=lambda: {"Revenue": 100.0})
    failing: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)
    sequence: int = 0

    def _call(self, name: str, instance_id: str) -> None:
        self.calls.append(name)
        if instance_id != self.instance_id:
            raise NotFoundError(f"CI answered 404 on {name}", status=404)
        if name in self.failing:
            raise CustomerInsightsError(f"CI answered 503 on {name}", status=503)

    def get_instance(self, instance_id: str) -> dict:
        self._call("get_instance", instance_id)
        return {"instanceId": instance_id, "name": "Test"}

    def list_data_sources(self, instance_id: str) -> list[DataSource]:
        self._call("list_data_sources", instance_id)
        return [DataSource.from_api({"dataSourceMetadata": d}) for d in self.data_sources]

    def list_jobs(self, instance_id: str, *, top: int | None = None, include_tasks: bool = False) -> list[Job]:
        self._call("list_jobs", instance_id)
        return [Job.from_api(j if include_tasks else {k: v for k, v in j.items() if k != "tasks"})
                for j in self.jobs[:top]]

    def list_segments(self, instance_id: str) -> list[Segment]:
        self._call("list_segments", instance_id)
        return [Segment.from_api({"name": name, "friendlyName": name, "evaluationStatus": {
            "jobStatus": "CompletedSuccess", "entityCount": count, "evaluationDate": STAMP}})
            for name, count in self.segment_counts.items()]

    def list_measures(self, instance_id: str) -> list[Measure]:
        self._call("list_measures", instance_id)
        return [self._measure(name) for name in self.measures]

    def get_measure(self, instance_id: str, measure_name: str) -> Measure:
        self._call("get_measure", instance_id)
        if measure_name not in self.measures:
            raise NotFoundError(f"CI answered 404 on measure {measure_name}", status=404)
        return self._measure(measure_name)

    def _measure(self, name: str) -> Measure:
        return Measure.from_api({"name": name, "displayName": name, "definition": {"isScalar": True},
                                 "output": {"values": {name: str(self.measures[name])}, "evaluationTime": STAMP}})

    def refresh_data_source(self, status: str, ended: str, *, data_source: str = DATA_SOURCE,
                            error: str | None = None) -> dict[str, Any]:
        """An on-demand ingestion job of one data source whose task ended in ``status`` at ``ended``
        (the newest job); a failure carries CI's error ``error``."""
        return self.add_job("ingestion", [("ingestion", "PoS data", status, error)], ended=ended,
                            identifiers=[data_source])

    def add_job(self, operation_type: str, tasks: list[tuple[str, str, str, str | None]], *, ended: str | None,
                identifiers: list[str] | None = None, submitted: str | None = None, kind: str = "onDemand",
                status: str | None = None) -> dict[str, Any]:
        """Add the newest job: ``tasks`` as (operationType, friendlyName, taskStatus, error code or None).
        ``ended`` None leaves the job running."""
        self.sequence += 1
        job_id = f"00000000-0000-4000-8000-{self.sequence:012d}"
        submitted = submitted or ended or STAMP
        task_dicts = [{"taskId": f"{job_id[:-4]}{self.sequence % 100:02d}{i:02d}", "taskStatus": t_status,
                       "operationType": op, "friendlyName": name, "jobIds": [job_id],
                       "submittedTimestamp": submitted, **({"endTimestamp": ended} if ended else {}),
                       **({"ciErrors": [{"errorCode": err, "message": f"{name} failed: {err}",
                                          "resultSeverity": "error", "exceptionCulprit": "system"}]} if err else {})}
                      for i, (op, name, t_status, err) in enumerate(tasks)]
        job = {"jobId": job_id, "jobStatus": status or ("running" if ended is None else tasks[-1][2] if tasks
                                                        else "successful"),
               "operationType": operation_type, "jobSubmissionKind": kind, "jobType": "full",
               "idList": identifiers or [], "submittedTimestamp": submitted, "tasks": task_dicts,
               **({"endTimestamp": ended} if ended else {})}
        self.jobs.insert(0, job)
        return job


@dataclass(frozen=True)
class Post:
    """One notification a callback received."""

    url: str
    notification: Mapping[str, Any]
    event_id: str


@dataclass
class ScriptedCallbacks:
    """Answers POSTs from a script (status codes, or ``CallbackAnswer``\\ s), then 202 once it is used up."""

    script: list[int | CallbackAnswer] = field(default_factory=list)
    posts: list[Post] = field(default_factory=list)

    def post(self, url: str, notification: Mapping[str, Any], *, event_id: str) -> CallbackAnswer:
        self.posts.append(Post(url, notification, event_id))
        answer = self.script.pop(0) if self.script else 202
        return answer if isinstance(answer, CallbackAnswer) else CallbackAnswer(answer)
