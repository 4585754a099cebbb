"""Get a status report: one instance's data sources, segments, measures or jobs with their states."""
from __future__ import annotations

import math
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Callable

from ciconnector.operations import Param
from ciconnector.operations.common import INSTANCE

from .model import Action, Call
from .schemas import compact, iso, obj, prop, timestamp

OUTCOMES = ("succeeded", "failed", "running", "canceled", "skipped", "other")
_OUTCOME_OF = {
    "skipped": "skipped",
    **dict.fromkeys(("updated", "successful", "completedsuccess", "completed"), "succeeded"),
    **dict.fromkeys(("updatefailed", "failed", "timedout", "completedfailure"), "failed"),
    **dict.fromkeys(("updating", "running", "queued", "needsupdate", "validating"), "running"),
    **dict.fromkeys(("updatecancelled", "aborted", "cancelled", "canceled", "interrupted", "deleted"), "canceled"),
}
RECENT_JOBS = 20
"""Jobs listed in a jobs report (newest first)."""


def outcome(status: str | None) -> str:
    """The normalized outcome of any CI status value (refresh state, job, task or evaluation status)."""
    return _OUTCOME_OF.get((status or "").lower(), "other")


def _row(id_: str, name: str | None, status: str | None, updated: datetime | None,
         value: float | int | None = None) -> dict[str, Any]:
    finite = value if value is not None and math.isfinite(value) else None
    return compact({"id": id_, "name": name or id_, "status": status, "outcome": outcome(status),
                    "updatedAt": iso(updated), "value": finite})


def _data_sources(call: Call) -> list[dict]:
    return [_row(d.data_source_id, d.display_name, d.refresh_state, d.last_refresh)
            for d in call.ci.list_data_sources(call.instance_id)]


def _segments(call: Call) -> list[dict]:
    return [_row(s.name, s.display_name, s.evaluation_status or s.state, s.evaluated_at, s.member_count)
            for s in call.ci.list_segments(call.instance_id)]


def _measures(call: Call) -> list[dict]:
    return [_row(m.name, m.display_name, m.evaluation_state, m.evaluated_at, m.value if m.is_scalar else None)
            for m in call.ci.list_measures(call.instance_id)]


def _jobs(call: Call) -> list[dict]:
    return [_row(j.job_id, " ".join(filter(None, (j.operation_type, j.submission_kind))) or None, j.job_status,
                 j.ended_at or j.submitted_at)
            for j in call.ci.list_jobs(call.instance_id, top=RECENT_JOBS)]


_SOURCES: dict[str, Callable[[Call], list[dict]]] = {
    "dataSources": _data_sources, "segments": _segments, "measures": _measures, "jobs": _jobs}


def _report(call: Call) -> dict:
    report_type = call.args["reportType"]
    items = _SOURCES[report_type](call)
    counts = Counter(item["outcome"] for item in items)
    return {
        "instanceId": call.instance_id, "reportType": report_type,
        "generatedAt": iso(datetime.now(timezone.utc)),
        "summary": {"total": len(items), **{o: counts.get(o, 0) for o in OUTCOMES}},
        "items": items,
    }


def _count(name: str) -> dict:
    return prop("integer", f"{name.capitalize()} Count", f"Items whose outcome is {name}.")


GET_STATUS_REPORT = Action(
    operation_id="GetStatusReport", method="GET", route="instances/{instanceId}/reports/{reportType}",
    summary="Get a status report",
    description=("Gets the status of an instance's data sources, segments, measures or recent jobs, "
                 "with counts per outcome, ready to send by email or chat."),
    params=(INSTANCE, Param(
        "reportType", "path", "string", "Report Type",
        "What to report on: dataSources, segments, measures or jobs.",
        required=True, enum=tuple(_SOURCES))),
    response=obj({
        "instanceId": prop("string", "Instance ID", "The instance reported on."),
        "reportType": prop("string", "Report Type", "What the report covers.", enum=list(_SOURCES)),
        "generatedAt": timestamp("Generated At", "When the report was made."),
        "summary": prop("object", "Summary", "Counts of items per outcome.", properties={
            "total": prop("integer", "Total Count", "All items."), **{o: _count(o) for o in OUTCOMES}}),
        "items": prop("array", "Items", "One row per data source, segment, measure or job.", items=obj({
            "id": prop("string", "ID", "Data source ID, segment or measure name, or job ID."),
            "name": prop("string", "Name", "The display name."),
            "status": prop("string", "Status", "The state as Customer Insights reports it."),
            "outcome": prop("string", "Outcome", "succeeded, failed, running, canceled or other.",
                            enum=list(OUTCOMES)),
            "updatedAt": timestamp("Updated At", "When the state last changed."),
            "value": prop("number", "Value", "Segment member count or scalar measure value."),
        }, required=("id", "name", "outcome"))),
    }, required=("instanceId", "reportType", "generatedAt", "summary", "items")),
    handler=_report)
