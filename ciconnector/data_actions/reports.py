"""Sends the status report (V1 and V2): one instance's data sources, segments, measures or jobs with
their states. The reference connector names the instance input ``dataset``; so do both reports."""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Callable

from ciconnector.operations import Param
from ciconnector.operations.common import INSTANCE
from ciconnector.trigger_kinds.events import EVENT_OUTCOMES

from .model import Action, Call
from .schemas import compact, iso, obj, prop, timestamp

OUTCOMES = (*EVENT_OUTCOMES, "running", "skipped", "other")
_OUTCOME_OF = {
    "skipped": "skipped",
    **dict.fromkeys(("updated", "successful", "completedsuccess", "completed"), "succeeded"),
    **dict.fromkeys(("updatefailed", "failed", "timedout", "completedfailure"), "failed"),
    **dict.fromkeys(("updating", "running", "queued", "needsupdate", "validating"), "running"),
    **dict.fromkeys(("updatecancelled", "aborted", "cancelled", "canceled", "interrupted", "deleted"), "cancelled"),
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


_NODE_KINDS = {"dataSources": "ingestion", "segments": "segmentation", "measures": "measures"}
"""Report type → the workflow status node operationType whose errors explain its failed items."""


def _report_v2(call: Call) -> dict:
    """The report with each failed item's CI error (from the workflow status) and one line of text
    ready to paste into an email or a chat message."""
    report = _report(call)
    operation = _NODE_KINDS.get(report["reportType"])
    if operation and report["summary"]["failed"]:
        errors = {(n.identifier or "").lower(): n.errors[0] for n in call.ci.get_workflow_status(call.instance_id)
                  if n.operation_type == operation and n.errors}
        for item in report["items"]:
            error = errors.get(item["id"].lower()) if item["outcome"] == "failed" else None
            if error is not None:
                item.update(compact({"errorCode": error.error_code, "errorMessage": error.message}))
    summary = report["summary"]
    failed = [f"{i['name']} ({i['errorMessage']})" if "errorMessage" in i else i["name"]
              for i in report["items"] if i["outcome"] == "failed"]
    report["text"] = (f"{report['reportType']}: {summary['total']} in total, {summary['succeeded']} succeeded, "
                      f"{summary['failed']} failed, {summary['running']} running."
                      + (f" Failed: {'; '.join(failed)}." if failed else ""))
    return report


def _count(name: str) -> dict:
    return prop("integer", f"{name.capitalize()} Count", f"Items whose outcome is {name}.")


DATASET = replace(INSTANCE, name="dataset")
"""The instance input under the reference connector's name for it."""
_PARAMS = (DATASET, Param("reportType", "path", "string", "Report Type",
                          "What to report on: dataSources, segments, measures or jobs.",
                          required=True, enum=tuple(_SOURCES)))
_ITEM = {
    "id": prop("string", "ID", "Data source ID, segment or measure name, or job ID."),
    "name": prop("string", "Name", "The display name."),
    "status": prop("string", "Status", "The state as Customer Insights reports it."),
    "outcome": prop("string", "Outcome", "succeeded, failed, cancelled, running, skipped or other.",
                    enum=list(OUTCOMES)),
    "updatedAt": timestamp("Updated At", "When the state last changed."),
    "value": prop("number", "Value", "Segment member count or scalar measure value."),
}
_REPORT = {
    "instanceId": prop("string", "Instance ID", "The instance reported on."),
    "reportType": prop("string", "Report Type", "What the report covers.", enum=list(_SOURCES)),
    "generatedAt": timestamp("Generated At", "When the report was made."),
    "summary": prop("object", "Summary", "Counts of items per outcome.", properties={
        "total": prop("integer", "Total Count", "All items."), **{o: _count(o) for o in OUTCOMES}}),
}
_REQUIRED = ("instanceId", "reportType", "generatedAt", "summary", "items")

GET_STATUS_REPORT = Action(
    operation_id="GetStatusReport", method="GET", route="instances/{dataset}/reports/{reportType}",
    summary="Sends the status report",
    description=("Gets the status of an instance's data sources, segments, measures or recent jobs, "
                 "with counts per outcome, ready to send by email or chat."),
    params=_PARAMS,
    response=obj({
        **_REPORT,
        "items": prop("array", "Items", "One row per data source, segment, measure or job.",
                      items=obj(_ITEM, required=("id", "name", "outcome"))),
    }, required=_REQUIRED),
    handler=_report)

GET_STATUS_REPORT_V2 = Action(
    operation_id="GetStatusReportV2", method="GET", route="instances/{dataset}/reports/{reportType}/v2",
    summary="Sends the status report V2",
    description=("Gets the status report with the reason of every failure (the error Customer Insights gave) "
                 "and a one-line text summary to post as is."),
    params=_PARAMS,
    response=obj({
        **_REPORT,
        "text": prop("string", "Report Text", "One line: the counts and each failed item with its reason."),
        "items": prop("array", "Items", "One row per data source, segment, measure or job.", items=obj({
            **_ITEM,
            "errorCode": prop("string", "Error Code", "The code of the error of a failed item."),
            "errorMessage": prop("string", "Error Message", "The message of the error of a failed item."),
        }, required=("id", "name", "outcome"))),
    }, required=(*_REQUIRED, "text")),
    handler=_report_v2)
