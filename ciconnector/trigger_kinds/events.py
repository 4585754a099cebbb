"""Trigger events and the notification payload POSTed to a flow's callback URL.

Payload (``Event.to_notification()``): one JSON object, camelCase keys, keys whose value is
unknown are **omitted** (never ``null``: Swagger 2.0 has no nullable types and Power Automate
rejects a payload that breaks the trigger's schema). Timestamps, here and in every action answer,
have one format: UTC ISO 8601 to the second with a ``Z`` (:func:`public_time`, e.g.
``2025-06-01T02:00:00Z``), so a flow can compare and format them without guessing.

=================  ==============  ==============================================================
key                type            meaning
=================  ==============  ==============================================================
eventId            string          deterministic id of the fact (32 hex chars); the delivery key is
                                   (subscription id, eventId)
trigger            string          trigger kind id, e.g. ``dataSourceRefreshFailed``
occurredAt         date-time       when the fact happened (CI time when CI gives it, else poll time)
instanceId         string          CI instance id
isTest             boolean         true only for "send a test notification" samples
subjectType        string          ``dataSource`` / ``segment`` / ``measure``
subjectId          string          data source id, segment name or measure name
subjectName        string          its display name
status             string          CI status: ``refreshState``, ``jobStatus`` or the merge ``taskStatus``
outcome            string          ``succeeded`` / ``failed`` / ``cancelled``
failedStage        string          the step that failed or was cancelled (task ``operationType``, e.g.
                                   ``match``, ``ingestion``)
errorCode          string          the first CI error's code (the one CI shows)
errorMessage       string          the first CI error's message
previousValue      number          threshold triggers: value at the previous observation
currentValue       number          threshold triggers: value now
threshold          number          threshold triggers: the subscription's threshold
direction          string          threshold triggers: the subscription's ``above``/``below``/``either``
crossing           string          threshold triggers: the way it crossed, ``above`` or ``below``
jobId              string          workflow job id (job triggers)
taskId             string          merge task id (unification)
submissionKind     string          ``scheduled`` / ``onDemand`` (job triggers)
submittedAt        date-time       job submission time
endedAt            date-time       job (full refresh) or merge step (unification) end time
errors             array           every CI error of the failed task(s): ``{errorCode, message, severity,
                                   culprit}``
taskSummary        object          full refresh: ``{total, successful, failed, cancelled, skipped,
                                   running, failedTasks: [{taskId, operationType, friendlyName,
                                   status, errorCode, message}]}``
stages             object          unification: ``{map, match, merge}`` statuses
=================  ==============  ==============================================================

Each trigger kind publishes the subset it sends as its notification schema
(:func:`notification_schema`); only ``eventId``, ``trigger``, ``occurredAt``, ``instanceId`` and
``isTest`` are required.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

from ciconnector.customer_insights.models import TERMINAL_STATUSES, CIErrorDetail, Task
from ciconnector.timeutil import iso as iso  # re-exported, like utc
from ciconnector.timeutil import utc as utc  # re-exported: the trigger modules import it from here

Number = int | float

MAX_LISTED_ITEMS = 10
"""Most failed tasks / errors listed in one payload (keeps notifications small)."""

OUTCOMES: Mapping[str, str] = {
    "successful": "succeeded", "updated": "succeeded",
    "failed": "failed", "timedOut": "failed", "updateFailed": "failed",
    "aborted": "cancelled", "deleted": "cancelled", "updateCancelled": "cancelled",
    "skipped": "skipped",
}
"""CI terminal status (job / task / data source refresh) → normalized outcome. An event's outcome is
only ever succeeded, failed or cancelled; ``skipped`` is a task's, counted in task summaries."""
EVENT_OUTCOMES = ("succeeded", "failed", "cancelled")


def make_event_id(*parts: object) -> str:
    """Deterministic event id: the same parts always give the same 32-hex-character id."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()[:32]


PUBLIC_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
"""The one timestamp format of notifications and action answers: UTC, seconds, ``Z``. Event ids
and watch marks keep full precision (:func:`iso`); only what makers see is cut to the second."""


def public_time(moment: datetime) -> str:
    """``moment`` as makers see it (:data:`PUBLIC_TIME_FORMAT`)."""
    return utc(moment).strftime(PUBLIC_TIME_FORMAT)


@dataclass(frozen=True)
class FailedTask:
    """A task of a full refresh that did not succeed."""

    task_id: str
    operation_type: str | None
    friendly_name: str | None
    status: str
    error: CIErrorDetail | None

    def to_dict(self) -> dict[str, Any]:
        return _compact({"taskId": self.task_id, "operationType": self.operation_type,
                         "friendlyName": self.friendly_name, "status": self.status,
                         "errorCode": self.error.error_code if self.error else None,
                         "message": self.error.message if self.error else None})


@dataclass(frozen=True)
class TaskSummary:
    """Counts of a job's tasks by outcome, with the first failed tasks."""

    total: int
    successful: int
    failed: int
    cancelled: int
    skipped: int
    running: int
    failed_tasks: tuple[FailedTask, ...] = ()

    @classmethod
    def of(cls, tasks: Sequence[Task]) -> "TaskSummary":
        outcomes = [OUTCOMES.get(t.task_status) if t.is_terminal else "running" for t in tasks]
        failed = [FailedTask(t.task_id, t.operation_type, t.friendly_name, t.task_status, t.error)
                  for t, o in zip(tasks, outcomes, strict=True) if o in ("failed", "cancelled")]
        return cls(total=len(tasks), successful=outcomes.count("succeeded"), failed=outcomes.count("failed"),
                   cancelled=outcomes.count("cancelled"), skipped=outcomes.count("skipped"),
                   running=outcomes.count("running"), failed_tasks=tuple(failed[:MAX_LISTED_ITEMS]))

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "successful": self.successful, "failed": self.failed,
                "cancelled": self.cancelled, "skipped": self.skipped, "running": self.running,
                "failedTasks": [t.to_dict() for t in self.failed_tasks]}


@dataclass(frozen=True)
class UnificationStages:
    """Statuses of the map, match and merge steps of one unification run (None = not in the job)."""

    map: str | None
    match: str | None
    merge: str | None

    def to_dict(self) -> dict[str, str]:
        return _compact({"map": self.map, "match": self.match, "merge": self.merge})


@dataclass(frozen=True)
class Event:
    """One trigger event: the fact a notification reports (see the module docstring)."""

    event_id: str
    trigger: str
    occurred_at: datetime
    instance_id: str
    is_test: bool = False
    subject_type: str | None = None
    subject_id: str | None = None
    subject_name: str | None = None
    status: str | None = None
    outcome: str | None = None
    failed_stage: str | None = None
    previous_value: Number | None = None
    current_value: Number | None = None
    threshold: Number | None = None
    direction: str | None = None
    crossing: str | None = None
    job_id: str | None = None
    task_id: str | None = None
    submission_kind: str | None = None
    submitted_at: datetime | None = None
    ended_at: datetime | None = None
    errors: tuple[CIErrorDetail, ...] = field(default=())
    task_summary: TaskSummary | None = None
    stages: UnificationStages | None = None

    def to_notification(self) -> dict[str, Any]:
        """The JSON payload POSTed to the callback URL (unknown values omitted)."""
        first = self.errors[0] if self.errors else None
        payload = {
            "eventId": self.event_id, "trigger": self.trigger, "occurredAt": public_time(self.occurred_at),
            "instanceId": self.instance_id, "isTest": self.is_test,
            "subjectType": self.subject_type, "subjectId": self.subject_id, "subjectName": self.subject_name,
            "status": self.status, "outcome": self.outcome, "failedStage": self.failed_stage,
            "errorCode": first.error_code if first else None, "errorMessage": first.message if first else None,
            "previousValue": self.previous_value, "currentValue": self.current_value,
            "threshold": self.threshold, "direction": self.direction, "crossing": self.crossing,
            "jobId": self.job_id, "taskId": self.task_id, "submissionKind": self.submission_kind,
            "submittedAt": public_time(self.submitted_at) if self.submitted_at else None,
            "endedAt": public_time(self.ended_at) if self.ended_at else None,
            "errors": [_error_json(e) for e in self.errors] or None,
            "taskSummary": self.task_summary.to_dict() if self.task_summary else None,
            "stages": self.stages.to_dict() if self.stages else None,
        }
        return _compact(payload)


def errors_of(tasks: Iterable[Task]) -> tuple[CIErrorDetail, ...]:
    """Every CI error of ``tasks`` (first :data:`MAX_LISTED_ITEMS`)."""
    return tuple(e for t in tasks for e in t.errors)[:MAX_LISTED_ITEMS]


def failed_stage(tasks: Iterable[Task]) -> str | None:
    """The ``operationType`` of the first task that failed, else of the first cancelled one."""
    done = [t for t in tasks if OUTCOMES.get(t.task_status) in ("failed", "cancelled")]
    done.sort(key=lambda t: OUTCOMES[t.task_status] != "failed")
    return done[0].operation_type if done else None


def combined_status(statuses: Sequence[str]) -> str | None:
    """One status for several tasks of the same step: the worst terminal one, else still running."""
    for status in ("failed", "timedOut", "aborted", "deleted"):
        if status in statuses:
            return status
    running = [s for s in statuses if s not in TERMINAL_STATUSES]
    if running:
        return running[0]
    for status in ("successful", "skipped"):
        if status in statuses:
            return status
    return None


def _error_json(error: CIErrorDetail) -> dict[str, str]:
    return _compact({"errorCode": error.error_code, "message": error.message, "severity": error.severity,
                     "culprit": error.culprit})


def _compact(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if v is not None}


# --- notification schema -------------------------------------------------------------------------

REQUIRED_FIELDS = ("eventId", "trigger", "occurredAt", "instanceId", "isTest")


def _prop(type_: str, summary: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"type": type_, "x-ms-summary": summary, "description": description, **extra}


_ERROR_ITEM = {"type": "object", "description": "One error reported by Customer Insights.", "properties": {
    "errorCode": _prop("string", "Each Error Code", "The CI error code."),
    "message": _prop("string", "Each Error Message", "The CI error message."),
    "severity": _prop("string", "Each Error Severity", "The CI result severity."),
    "culprit": _prop("string", "Each Error Culprit", "Who caused the error: system, user or external."),
}}

FIELD_SCHEMAS: Mapping[str, Mapping[str, Any]] = {
    "eventId": _prop("string", "Event ID", "The unique id of the event; a repeated delivery has the same id."),
    "trigger": _prop("string", "Trigger", "The trigger kind that produced the event."),
    "occurredAt": _prop("string", "Occurred At", "When the event happened, in UTC (e.g. 2025-06-01T02:00:00Z).",
                        format="date-time"),
    "instanceId": _prop("string", "Instance ID", "The Customer Insights instance id."),
    "isTest": _prop("boolean", "Is Test", "True when this is a test notification with sample values."),
    "subjectType": _prop("string", "Subject Type", "The kind of resource the event is about."),
    "subjectId": _prop("string", "Subject ID", "The id or name of the resource the event is about."),
    "subjectName": _prop("string", "Subject Name", "The display name of the resource the event is about."),
    "status": _prop("string", "Status", "The status Customer Insights reported."),
    "outcome": _prop("string", "Outcome", "The outcome: succeeded, failed or cancelled."),
    "failedStage": _prop("string", "Failed Stage",
                         "The step that failed or was cancelled, e.g. ingestion, map, match, merge or segmentation."),
    "errorCode": _prop("string", "Error Code", "The code of the first error Customer Insights reported."),
    "errorMessage": _prop("string", "Error Message",
                          "The message of the first error Customer Insights reported: the reason to show."),
    "previousValue": _prop("number", "Previous Value", "The value at the previous observation."),
    "currentValue": _prop("number", "Current Value", "The value that crossed the threshold."),
    "threshold": _prop("number", "Threshold", "The threshold of the trigger."),
    "direction": _prop("string", "Direction", "The crossing direction the trigger watches."),
    "crossing": _prop("string", "Crossing", "The way the value crossed the threshold: above or below."),
    "jobId": _prop("string", "Job ID", "The workflow job id."),
    "taskId": _prop("string", "Task ID", "The workflow task id."),
    "submissionKind": _prop("string", "Submission Kind", "How the job was started: scheduled or onDemand."),
    "submittedAt": _prop("string", "Submitted At", "When the job was submitted, in UTC.", format="date-time"),
    "endedAt": _prop("string", "Ended At", "When the run ended, in UTC.", format="date-time"),
    "errors": {"type": "array", "x-ms-summary": "Errors", "description": "The errors Customer Insights reported.",
               "items": _ERROR_ITEM},
    "taskSummary": {"type": "object", "x-ms-summary": "Task Summary", "description": "Counts of the job's tasks.",
                    "properties": {
                        "total": _prop("integer", "Total Tasks", "The number of tasks."),
                        "successful": _prop("integer", "Successful Tasks", "Tasks that succeeded."),
                        "failed": _prop("integer", "Failed Tasks", "Tasks that failed or timed out."),
                        "cancelled": _prop("integer", "Cancelled Tasks", "Tasks that were aborted or deleted."),
                        "skipped": _prop("integer", "Skipped Tasks", "Tasks that were skipped."),
                        "running": _prop("integer", "Unfinished Tasks", "Tasks that had not finished."),
                        "failedTasks": {"type": "array", "x-ms-summary": "Failed Task List",
                                        "description": "The first tasks that did not succeed.",
                                        "items": {"type": "object", "description": "One failed task.",
                                                  "properties": {
                                            "taskId": _prop("string", "Failed Task ID", "The task id."),
                                            "operationType": _prop("string", "Failed Task Operation",
                                                                   "The operation type of the task."),
                                            "friendlyName": _prop("string", "Failed Task Name",
                                                                  "The display name of the task."),
                                            "status": _prop("string", "Failed Task Status", "The task status."),
                                            "errorCode": _prop("string", "Failed Task Error Code",
                                                               "The CI error code of the task."),
                                            "message": _prop("string", "Failed Task Error Message",
                                                             "The CI error message of the task."),
                                        }}},
                    }},
    "stages": {"type": "object", "x-ms-summary": "Stages", "description": "Statuses of the unification steps.",
               "properties": {
                   "map": _prop("string", "Map Status", "The status of the map step."),
                   "match": _prop("string", "Match Status", "The status of the match step."),
                   "merge": _prop("string", "Merge Status", "The status of the merge step."),
               }},
}
"""Schema of every payload key (JSON Schema draft-04 subset valid in Swagger 2.0)."""


def notification_schema(description: str, fields: Sequence[str],
                        overrides: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The schema of one trigger kind's payload: the required fields plus ``fields``.

    ``overrides`` replaces keys of a field's schema (e.g. a kind-specific ``x-ms-summary`` or
    ``type: integer``).
    """
    overrides = overrides or {}
    properties = {}
    for name in (*REQUIRED_FIELDS, *fields):
        properties[name] = {**FIELD_SCHEMAS[name], **overrides.get(name, {})}
    return {"type": "object", "description": description, "required": list(REQUIRED_FIELDS),
            "properties": properties}
