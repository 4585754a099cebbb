"""The trigger catalog: every trigger kind declared once.

The HTTP functions validate subscribe calls with it (:func:`validate_subscription`), the poller
asks it which CI lists to fetch (:attr:`TriggerKind.resources`) and how to detect events
(:attr:`TriggerKind.rule`), and the connector definition is generated from it (operation name,
summary, description, hint, parameters, notification schema).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from ciconnector.customer_insights.models import Measure

from .events import Event, notification_schema
from .observations import PollResource
from .parameters import (DATA_SOURCE_ID, DIRECTION, INCLUDE_ON_DEMAND, INSTANCE_ID, MEASURE_NAME, SEGMENT_NAME,
                         THRESHOLD, Parameter, ResourceKind, SubscriptionValidationError, normalize_parameters)
from .rules import DataSourceRefreshRule, DetectionRule, FullRefreshRule, ThresholdRule, UnificationRule
from .thresholds import DEFAULT_DIRECTION, DIRECTIONS


@dataclass(frozen=True)
class TriggerKind:
    """One trigger kind.

    Attributes:
        id: stable camelCase id stored with subscriptions, e.g. ``dataSourceRefreshFailed``.
        operation_name: PascalCase name for operationIds, e.g. ``DataSourceRefreshFailed``.
        summary: sentence-case title, at most 80 characters, no trailing punctuation.
        description: full sentences, different from the summary.
        hint: how to make the event happen (``x-ms-trigger-hint``).
        parameters: the subscribe parameters, in display order.
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
    parameters: tuple[Parameter, ...]
    resources: frozenset[PollResource]
    notification_schema: Mapping[str, Any]
    rule: DetectionRule

    @property
    def resource_parameters(self) -> dict[str, ResourceKind]:
        """Parameter name → the CI resource kind its value names (for the adapter's existence check)."""
        return {p.name: p.resource for p in self.parameters if p.resource is not None}

    def parameter(self, name: str) -> Parameter:
        """The declared parameter ``name``; KeyError when undeclared."""
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(name)

    def validate_parameters(self, raw: Any) -> dict[str, Any]:
        """Validated, normalized parameters; raises :class:`SubscriptionValidationError`."""
        return normalize_parameters(self.parameters, raw)

    def sample_event(self, instance_id: str, parameters: Mapping[str, Any], now: datetime) -> Event:
        """A test event (``isTest`` true) for "send a test notification"."""
        return self.rule.sample(self.id, instance_id, parameters, now)


_INSTANCE = Parameter(INSTANCE_ID, "string", "Instance", "The Customer Insights instance to watch.",
                      format="uuid", resource="instance")
_DATA_SOURCE = Parameter(DATA_SOURCE_ID, "string", "Data Source",
                         "The data source to watch. Leave empty to watch every data source.",
                         required=False, format="uuid", resource="dataSource")
_DIRECTION = Parameter(DIRECTION, "string", "Direction",
                       "Fire when the value rises above the threshold, falls below it, or either.",
                       required=False, default=DEFAULT_DIRECTION, enum=DIRECTIONS)

_DATA_SOURCE_FIELDS = ("subjectType", "subjectId", "subjectName", "status", "outcome")
_DATA_SOURCE_LABELS = {"subjectId": {"x-ms-summary": "Data Source ID"},
                       "subjectName": {"x-ms-summary": "Data Source Name"},
                       "status": {"x-ms-summary": "Refresh State"}}
_THRESHOLD_FIELDS = ("subjectType", "subjectId", "subjectName", "previousValue", "currentValue", "threshold",
                     "direction", "crossing")
_JOB_FIELDS = ("status", "outcome", "jobId", "submissionKind", "submittedAt", "endedAt", "errors")


_KINDS = (
    TriggerKind(
        id="dataSourceRefreshFailed", operation_name="DataSourceRefreshFailed",
        summary="When a data source refresh fails",
        description="Triggers once for each failed refresh of a data source of the instance, "
                    "or of the chosen data source.",
        hint="To see it work, refresh a data source whose source cannot be reached.",
        parameters=(_INSTANCE, _DATA_SOURCE), resources=frozenset({"dataSources"}),
        notification_schema=notification_schema(
            "The data source whose refresh failed.", _DATA_SOURCE_FIELDS, _DATA_SOURCE_LABELS),
        rule=DataSourceRefreshRule("failed")),
    TriggerKind(
        id="dataSourceRefreshSucceeded", operation_name="DataSourceRefreshSucceeded",
        summary="When a data source refresh succeeds",
        description="Triggers once for each successful refresh of a data source of the instance, "
                    "or of the chosen data source.",
        hint="To see it work, refresh a data source in Customer Insights.",
        parameters=(_INSTANCE, _DATA_SOURCE), resources=frozenset({"dataSources"}),
        notification_schema=notification_schema(
            "The data source that was refreshed.", _DATA_SOURCE_FIELDS, _DATA_SOURCE_LABELS),
        rule=DataSourceRefreshRule("succeeded")),
    TriggerKind(
        id="segmentThresholdCrossed", operation_name="SegmentThresholdCrossed",
        summary="When a segment member count crosses a threshold",
        description="Triggers when the member count of a segment crosses the threshold in the chosen "
                    "direction. The first evaluation after the flow is saved only records the starting count.",
        hint="To see it work, refresh the segment after changing its rules so its size crosses the threshold.",
        parameters=(
            _INSTANCE,
            Parameter(SEGMENT_NAME, "string", "Segment", "The segment to watch.", resource="segment"),
            Parameter(THRESHOLD, "integer", "Threshold", "The member count to watch, 0 or more.", minimum=0),
            _DIRECTION),
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
                    "in the chosen direction. The first evaluation after the flow is saved only records the "
                    "starting value.",
        hint="To see it work, refresh the measure after its input data changed.",
        parameters=(
            _INSTANCE,
            Parameter(MEASURE_NAME, "string", "Measure",
                      "The business measure to watch; it must have no dimensions.", resource="measure"),
            Parameter(THRESHOLD, "number", "Threshold", "The measure value to watch."),
            _DIRECTION),
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
        parameters=(
            _INSTANCE,
            Parameter(INCLUDE_ON_DEMAND, "boolean", "Include On-Demand Refreshes",
                      "Also trigger for full refreshes started by hand or by the API.",
                      required=False, default=False)),
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
        parameters=(_INSTANCE,), resources=frozenset({"jobs"}),
        notification_schema=notification_schema(
            "The outcome of the unification run with the status of each step.",
            (*_JOB_FIELDS, "taskId", "stages"), {"status": {"x-ms-summary": "Unification Status"}}),
        rule=UnificationRule()),
)


CATALOG: Mapping[str, TriggerKind] = {kind.id: kind for kind in _KINDS}
"""Every trigger kind by id, in display order."""


def validate_subscription(kind_id: Any, parameters: Any) -> tuple[TriggerKind, dict[str, Any]]:
    """The trigger kind and the normalized parameters of a subscribe call.

    Raises :class:`SubscriptionValidationError` (``UnknownTriggerKind`` on field ``triggerKind``,
    or a parameter error).
    """
    kind = CATALOG.get(kind_id) if isinstance(kind_id, str) else None
    if kind is None:
        raise SubscriptionValidationError(
            "UnknownTriggerKind", f"Unknown trigger kind; expected one of: {', '.join(CATALOG)}.", "triggerKind")
    return kind, kind.validate_parameters(parameters)


def ensure_scalar_measure(measure: Measure) -> None:
    """Refuse a measure with dimensions (the adapter calls this after fetching the measure)."""
    if not measure.is_scalar:
        raise SubscriptionValidationError(
            "MeasureNotScalar",
            f"Measure '{measure.name}' has dimensions; only business measures without dimensions are supported.",
            MEASURE_NAME)
