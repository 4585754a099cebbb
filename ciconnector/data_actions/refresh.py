"""Start a refresh: submit a workflow job (full, one data source, segments or measures)."""
from __future__ import annotations

from ciconnector.customer_insights import NotFoundError
from ciconnector.customer_insights.models import DataSource
from ciconnector.errors import InvalidInput, NotFound
from ciconnector.operations import Param
from ciconnector.operations.common import DATA_SOURCE_PICKER, INSTANCE
from ciconnector.operations.params import NAME_MAX_LENGTH, NAME_PATTERN

from .model import Action, Call
from .schemas import compact, iso, obj, prop, timestamp

OPERATION_TYPES = {"full": "all", "dataSource": "ingestion", "segments": "segmentation", "measures": "measures"}
"""Refresh scope → CI workflow ``operationType``."""


def data_source(call: Call, value: str, field: str) -> DataSource:
    """The data source ``value`` names (its ID or unique name, as CI's API accepts both); a 404
    ``DataSourceNotFound`` on ``field`` when there is none."""
    try:
        return call.ci.get_data_source(call.instance_id, value)
    except NotFoundError:
        raise NotFound("DataSourceNotFound", "No such data source in this instance.", field=field) from None


def _start(call: Call) -> dict:
    scope, data_source_id = call.args["scope"], call.args["dataSourceId"]
    identifiers = None
    if scope == "dataSource":
        if not data_source_id:
            raise InvalidInput("MissingParameter", "Parameter 'dataSourceId' is required for a data source refresh.",
                               field="dataSourceId")
        identifiers = [data_source(call, data_source_id, "dataSourceId").data_source_id]
    elif data_source_id:
        raise InvalidInput("InvalidParameter", "Parameter 'dataSourceId' applies only to the dataSource scope.",
                           field="dataSourceId")
    job = call.ci.submit_job(call.instance_id, operation_type=OPERATION_TYPES[scope], identifiers=identifiers,
                             force_run=call.args["forceRun"])
    return compact({"jobId": job.job_id, "jobStatus": job.job_status, "scope": scope,
                    "operationType": job.operation_type or OPERATION_TYPES[scope],
                    "submittedAt": iso(job.submitted_at)})


START_REFRESH = Action(
    operation_id="StartRefresh", method="POST", route="instances/{instanceId}/refreshes",
    summary="Start a refresh",
    description=("Starts a refresh job: a full refresh, one data source, all segments or all measures. "
                 "The job runs on in Customer Insights; its ID can be followed in a status report."),
    params=(
        INSTANCE,
        Param("scope", "query", "string", "Scope", "What to refresh: full, dataSource, segments or measures.",
              default="full", enum=tuple(OPERATION_TYPES)),
        Param("dataSourceId", "query", "string", "Data Source",
              "The data source to refresh, by ID or unique name; only with the dataSource scope.",
              max_length=NAME_MAX_LENGTH, pattern=NAME_PATTERN, picker=DATA_SOURCE_PICKER),
        Param("forceRun", "query", "boolean", "Force Run",
              "Run the steps even when Customer Insights sees no changed input.", default=True,
              visibility="advanced"),
    ),
    response=obj({
        "jobId": prop("string", "Job ID", "The ID of the workflow job."),
        "jobStatus": prop("string", "Job Status", "The job status, usually queued or running."),
        "scope": prop("string", "Scope", "What is being refreshed.", enum=list(OPERATION_TYPES)),
        "operationType": prop("string", "Operation Type", "The workflow operation type of the job."),
        "submittedAt": timestamp("Submitted At", "When the job was submitted."),
    }, required=("jobId", "jobStatus", "scope", "operationType")),
    handler=_start)
