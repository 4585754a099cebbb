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
    StatusNode,
)
from ciconnector.delivery.sender import CallbackAnswer

INSTANCE = "6f0e2a1c-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
DATA_SOURCE = "1a2b3c4d-0000-4000-8000-00000000000a"
STAMP = "2026-11-25T10:00:00Z"


@dataclass
class FakeCI:
    """One CI instance whose lists a test changes between polls; counts calls and can fail a list."""

    instance_id: str = INSTANCE
    data_sources: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    segment_counts: dict[str, int] = field(default_factory=lambda: {"HighValue": 10})
    measures: dict[str, float] = field(default_factory=lambda: {"Revenue": 100.0})
    failing: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)

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
        return [Job.from_api(j) for j in self.jobs[:top]]

    def list_segments(self, instance_id: str) -> list[Segment]:
        self._call("list_segments", instance_id)
        return [Segment.from_api({"name": name, "friendlyName": name, "evaluationStatus": {
            "jobStatus": "CompletedSuccess", "entityCount": count, "evaluationDate": STAMP}})
            for name, count in self.segment_counts.items()]

    def list_measures(self, instance_id: str) -> list[Measure]:
        self._call("list_measures", instance_id)
        return [self._measure(name) for name in self.measures]

    def get_workflow_status(self, instance_id: str) -> list[StatusNode]:
        self._call("get_workflow_status", instance_id)
        return []

    def get_measure(self, instance_id: str, measure_name: str) -> Measure:
        self._call("get_measure", instance_id)
        if measure_name not in self.measures:
            raise NotFoundError(f"CI answered 404 on measure {measure_name}", status=404)
        return self._measure(measure_name)

    def _measure(self, name: str) -> Measure:
        return Measure.from_api({"name": name, "displayName": name, "definition": {"isScalar": True},
                                 "output": {"values": {name: str(self.measures[name])}, "evaluationTime": STAMP}})

    def refresh_data_source(self, state: str, last_refresh: str) -> None:
        """The data source's refresh ended in ``state`` at ``last_refresh``."""
        self.data_sources = [{"dataSourceId": DATA_SOURCE, "name": "PoS", "friendlyName": "PoS data",
                              "refreshState": state, "lastRefresh": last_refresh}]


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
