"""The trigger catalog: every trigger kind declared once.

Each kind declares its subscribe operation (:attr:`TriggerKind.subscribe`: route, parameters,
responses), which the HTTP functions register and validate with and the connector definition is
emitted from; the poller asks the kind which CI lists to fetch (:attr:`TriggerKind.resources`) and
how to detect events (:attr:`TriggerKind.rule`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, Mapping

from ciconnector.customer_insights.models import Measure
from ciconnector.errors import InvalidInput
from ciconnector.operations import Operation, Param

from .events import Event, notification_schema
from .observations import PollResource
from .parameters import (
    DATA_SOURCE,
    DIRECTION_PARAM,
    MEASURE,
    MEASURE_NAME,
    MEASURE_THRESHOLD,
    MEMBER_COUNT_THRESHOLD,
    ON_DEMAND,
    SEGMENT,
    WATCHED_INSTANCE,
)
from .rules import DataSourceRefreshRule, DetectionRule, FullRefreshRule, ThresholdRule, UnificationRule
from .subscribe import MAX_BODY_BYTES, SUBSCRIBE_RESPONSES, SUBSCRIBE_ROUTE, subscription_body


@dataclass(frozen=True)
class TriggerKind:
    """One trigger kind.

    Attributes:
        id: stable camelCase id stored with subscriptions, e.g. ``dataSourceRefreshFailed``.
        operation_name: PascalCase name for operationIds, e.g. ``DataSourceRefreshFailed``.
        summary: sentence-case title, at most 80 characters, no trailing punctuation.
        description: full sentences, different from the summary.
        hint: how to make the event happen (``x-ms-trigger-hint``).
        parameters: the subscribe parameters, in display order: the path's instance, then body fields.
        resources: the CI lists one poll must fetch for this kind.
        notification_schema: JSON schema of the payload, with its ``description`` (Swagger 2.0
            compatible, for ``x-ms-notification-content``).
        rule: how events are detected.
    """

    id: str
    operation_name: str
    summary: str
    description: str
    hint: str
    parameters: tuple[Param, ...]
    resources: frozenset[PollResource]
    notification_schema: Mapping[str, Any]
    rule: DetectionRule

    @cached_property
    def subscribe(self) -> Operation:
        """The kind's subscribe operation (``POST``, answered 201 with the unsubscribe ``Location``)."""
        schema = dict(self.notification_schema)
        return Operation(
            operation_id=self.operation_name, method="POST", route=SUBSCRIBE_ROUTE % self.id,
            summary=self.summary, description=self.description,
            params=(*(p for p in self.parameters if p.location == "path"),
                    subscription_body(tuple(p for p in self.parameters if p.location == "field"))),
            responses=SUBSCRIBE_RESPONSES, trigger_hint=self.hint,
            notification={"description": schema.get("description", self.summary), "schema": schema},
            max_body_bytes=MAX_BODY_BYTES)

    def parameters_of(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """The kind's parameters out of the validated subscribe inputs (what a subscription stores)."""
        return {p.name: args[p.name] for p in self.parameters}

    def sample_event(self, instance_id: str, parameters: Mapping[str, Any], now: datetime) -> Event:
        """A test event (``isTest`` true) for "send a test notification"."""
        return self.rule.sample(self.id, instance_id, parameters, now)


_DATA_SOURCE_FIELDS = ("subjectType", "subjectId", "subjectName", "status", "outcome", "jobId", "taskId",
                       "submissionKind", "endedAt")
_FAILURE_FIELDS = ("failedStage", "errorCode", "errorMessage", "errors")
_DATA_SOURCE_LABELS = {"subjectId": {"x-ms-summary": "Data Source ID"},
                       "subjectName": {"x-ms-summary": "Data Source Name"},
                       "status": {"x-ms-summary": "Refresh Status"},
                       "taskId": {"x-ms-summary": "Ingestion Task ID"},
                       "endedAt": {"x-ms-summary": "Refresh Ended At"}}
_THRESHOLD_FIELDS = ("subjectType", "subjectId", "subjectName", "previousValue", "currentValue", "threshold",
                     "direction", "crossing")
_JOB_FIELDS = ("status", "outcome", "jobId", "submissionKind", "submittedAt", "endedAt", *_FAILURE_FIELDS)


_KINDS = (
    TriggerKind(
        id="dataSourceRefreshFailed", operation_name="DataSourceRefreshFailed",
        summary="When a data source refresh fails",
        description="Triggers once for each failed refresh of a data source of the instance, "
                    "or of the chosen data source.",
        hint="To see it work, refresh a data source whose source cannot be reached.",
        parameters=(WATCHED_INSTANCE, DATA_SOURCE), resources=frozenset({"jobs"}),
        notification_schema=notification_schema(
            "The data source whose refresh failed, with the errors Customer Insights gave.",
            (*_DATA_SOURCE_FIELDS, *_FAILURE_FIELDS), _DATA_SOURCE_LABELS),
        rule=DataSourceRefreshRule("failed")),
    TriggerKind(
        id="dataSourceRefreshSucceeded", operation_name="DataSourceRefreshSucceeded",
        summary="When a data source refresh succeeds",
        description="Triggers once for each successful refresh of a data source of the instance, "
                    "or of the chosen data source.",
        hint="To see it work, refresh a data source in Customer Insights.",
        parameters=(WATCHED_INSTANCE, DATA_SOURCE), resources=frozenset({"jobs"}),
        notification_schema=notification_schema(
            "The data source that was refreshed.", _DATA_SOURCE_FIELDS, _DATA_SOURCE_LABELS),
        rule=DataSourceRefreshRule("succeeded")),
    TriggerKind(
        id="segmentThresholdCrossed", operation_name="SegmentThresholdCrossed",
        summary="When a segment member count crosses a threshold",
        description="Triggers when the member count of a segment crosses the threshold in the chosen "
                    "direction, compared from the count when the flow was saved.",
        hint="To see it work, refresh the segment after changing its rules so its size crosses the threshold.",
        parameters=(WATCHED_INSTANCE, SEGMENT, MEMBER_COUNT_THRESHOLD, DIRECTION_PARAM),
        resources=frozenset({"segments"}),
        notification_schema=notification_schema(
            "The segment whose member count crossed the threshold.", _THRESHOLD_FIELDS, {
                "subjectId": {"x-ms-summary": "Segment Name"},
                "subjectName": {"x-ms-summary": "Segment Display Name"},
                "previousValue": {"type": "integer", "x-ms-summary": "Previous Member Count"},
                "currentValue": {"type": "integer", "x-ms-summary": "Member Count"},
                "threshold": {"type": "integer"}}),
        rule=ThresholdRule("segment")),
    TriggerKind(
        id="measureThresholdCrossed", operation_name="MeasureThresholdCrossed",
        summary="When a business measure crosses a threshold",
        description="Triggers when the value of a business measure without dimensions crosses the threshold "
                    "in the chosen direction, compared from the value when the flow was saved.",
        hint="To see it work, refresh the measure after its input data changed.",
        parameters=(WATCHED_INSTANCE, MEASURE, MEASURE_THRESHOLD, DIRECTION_PARAM),
        resources=frozenset({"measures"}),
        notification_schema=notification_schema(
            "The business measure whose value crossed the threshold.", _THRESHOLD_FIELDS, {
                "subjectId": {"x-ms-summary": "Measure Name"},
                "subjectName": {"x-ms-summary": "Measure Display Name"},
                "previousValue": {"x-ms-summary": "Previous Measure Value"},
                "currentValue": {"x-ms-summary": "Measure Value"}}),
        rule=ThresholdRule("measure")),
    TriggerKind(
        id="fullRefreshCompleted", operation_name="FullRefreshCompleted",
        summary="When a full scheduled refresh completes",
        description="Triggers once when a scheduled refresh of the whole instance ends, whatever its outcome. "
                    "Refreshes started by hand are included only when you choose so.",
        hint="To see it work, wait for the next scheduled refresh of the instance.",
        parameters=(WATCHED_INSTANCE, ON_DEMAND),
        resources=frozenset({"jobs"}),
        notification_schema=notification_schema(
            "The outcome of the full refresh and a summary of its tasks.", (*_JOB_FIELDS, "taskSummary"),
            {"status": {"x-ms-summary": "Job Status"}}),
        rule=FullRefreshRule()),
    TriggerKind(
        id="unificationRefreshCompleted", operation_name="UnificationRefreshCompleted",
        summary="When a unification refresh completes",
        description="Triggers once when the merge step of a unification run (map, match, merge) ends, "
                    "whatever its outcome.",
        hint="To see it work, run unification in Customer Insights.",
        parameters=(WATCHED_INSTANCE,), resources=frozenset({"jobs"}),
        notification_schema=notification_schema(
            "The outcome of the unification run with the status of each step.",
            (*_JOB_FIELDS, "taskId", "stages"), {"status": {"x-ms-summary": "Unification Status"}}),
        rule=UnificationRule()),
)


CATALOG: Mapping[str, TriggerKind] = {kind.id: kind for kind in _KINDS}
"""Every trigger kind by id, in display order."""


def trigger_kind(kind_id: Any) -> TriggerKind:
    """The kind with ``kind_id``; an ``UnknownTriggerKind`` :class:`InvalidInput` on field ``triggerKind``."""
    kind = CATALOG.get(kind_id) if isinstance(kind_id, str) else None
    if kind is None:
        raise InvalidInput("UnknownTriggerKind", f"Unknown trigger kind; expected one of: {', '.join(CATALOG)}.",
                           field="triggerKind")
    return kind


def ensure_scalar_measure(measure: Measure) -> None:
    """Refuse a measure with dimensions (subscribe calls this after fetching the measure)."""
    if not measure.is_scalar:
        raise InvalidInput(
            "MeasureNotScalar",
            f"Measure '{measure.name}' has dimensions; only business measures without dimensions are supported.",
            field=MEASURE_NAME)
