"""CI v1 wire shapes (field names and enums from the code model) for the in-memory objects.

Absent values are omitted rather than sent as null: the code model marks almost no property
nullable. Timestamps use the .NET round-trip form with seven fractional digits and ``Z``.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from .state import DataSource, Instance, Job, Measure, Segment, Table, Task, utcnow
from .workflow import Node

CREATED_BY = "admin@contoso.example"
_DATA_TYPES = {"string": "String", "dateTime": "DateTime", "decimal": "Decimal", "int64": "Int64",
               "boolean": "Boolean"}


def iso(moment: datetime | None) -> str | None:
    """``2025-06-01T02:00:00.1234560Z`` (None stays None)."""
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def compact(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` without None values."""
    return {k: v for k, v in obj.items() if v is not None}


def _audit(inst: Instance, created: datetime, updated: datetime | None, version: int) -> dict[str, Any]:
    return {"version": version, "updatedBy": CREATED_BY, "updatedUtc": iso(updated or created),
            "createdBy": CREATED_BY, "createdUtc": iso(created), "instanceId": inst.id}


def instance_info(inst: Instance) -> dict[str, Any]:
    """``InstanceInfo``."""
    return {"instanceId": inst.id, "name": inst.name, "instanceType": inst.instance_type,
            "scaleUnitId": f"su-{inst.region}-01", "azureRegion": inst.region}


def instance_metadata(inst: Instance) -> dict[str, Any]:
    """``InstanceMetadata``."""
    body = {"isB2B": False, "isB2C": True, "isByoPbi": False, "isByoSynapse": False, "isCdsMdlOrCdsByodl": False,
            "name": inst.name, "provisioningState": "active", "instanceType": inst.instance_type,
            "region": inst.region, "isRefreshCredentialRequired": False, "configuredWorkspaces": ["Main"],
            "azureRegion": inst.region}
    if inst.schedule:
        body["refreshSchedule"] = {"isActive": inst.schedule.is_active, "timezoneId": inst.schedule.timezone_id,
                                   "cronSchedules": list(inst.schedule.cron), "scheduleId": inst.schedule.id,
                                   "instanceId": inst.id}
    return {**body, **_audit(inst, inst.created, None, 1)}


def schedules(inst: Instance) -> list[dict[str, Any]]:
    """``WorkflowRefreshSchedule[]``."""
    if not inst.schedule:
        return []
    return [{"operationType": "all", "subType": "noSubType", "identifiers": [], "jobType": "full",
             "isActive": inst.schedule.is_active, "timezoneId": inst.schedule.timezone_id,
             "cronSchedules": list(inst.schedule.cron), "scheduleId": inst.schedule.id, "instanceId": inst.id}]


def data_source_metadata(inst: Instance, ds: DataSource) -> dict[str, Any]:
    """``DataSourceMetadata``."""
    tables = [t for t in inst.tables.values() if t.data_source_id == ds.id]
    return compact({
        "kind": ds.kind, "isActive": True, "entityNames": list(ds.entity_names), "entitiesCount": len(ds.entity_names),
        "dataSourceId": ds.id, "name": ds.name, "friendlyName": ds.friendly_name,
        "entityInformation": [compact({"entityName": t.entity_name, "primaryKey": t.primary_key,
                                       "entityType": t.entity_type, "timestampFieldName": t.timestamp_attribute})
                              for t in tables],
        "provisioningState": "active", "lastRefresh": iso(ds.last_refresh), "refreshState": ds.refresh_state,
        "modelJsonPath": ds.model_json_path, **_audit(inst, ds.created, ds.updated, ds.version)})


def data_source_info(inst: Instance, ds: DataSource, include_model: bool = True) -> dict[str, Any]:
    """``DataSourceInfo``: ``{dataSourceMetadata, model}`` (model = CDM model.json summary)."""
    body: dict[str, Any] = {"dataSourceMetadata": data_source_metadata(inst, ds)}
    if include_model:
        body["model"] = {"name": ds.name, "description": f"{ds.friendly_name} data", "version": "1.0",
                         "culture": "en-US", "modifiedTime": iso(ds.updated or ds.created),
                         "entities": [{"name": e, "isHidden": False} for e in ds.entity_names], "relationships": []}
    return body


def _attribute(table: Table, name: str, data_type: str) -> dict[str, Any]:
    return {"name": name, "friendlyName": name, "baseName": f"{table.name}.{name}",
            "dataType": _DATA_TYPES.get(data_type, data_type)}


def _partition(table: Table, folder: str, name: str, file: str, file_type: str) -> dict[str, Any]:
    return {"name": f"{table.entity_name}-{name}",
            "location": f"https://contosoretail.dfs.core.windows.net/customerinsights/{folder}/{table.name}/{file}",
            "refreshTime": iso(table.refresh_time),
            "fileFormatSettings": {"type": file_type, **({"delimiter": ",", "encoding": "UTF-8"}
                                                          if file_type == "csv" else {})},
            "isCIGenerated": not table.is_source, "forceSasAuth": False, "hasHeader": file_type == "csv"}


def entity_metadata(table: Table) -> dict[str, Any]:
    """``IEntityMetadata`` with one full CSV partition, plus (the V2 partition shapes) a Parquet copy
    of a CI-generated table or an incremental upsert partition of an ingested one."""
    folder = table.data_source_name or "system"
    extra = ({"incrementalUpsertPartitions": [
                  _partition(table, folder, "upsert-00001", "upsert/part-00001.csv", "csv")]}
             if table.is_source else
             {"fullPartitionsParquet": [_partition(table, folder, "parquet-00000", "part-00000.parquet", "parquet")]})
    attributes = [_attribute(table, a.name, a.data_type) for a in table.attributes]
    key = next(a for a in attributes if a["name"] == table.primary_key)
    ts = next((a for a in attributes if a["name"] == table.timestamp_attribute), None)
    return compact({
        "name": table.entity_name, "qualifiedEntityName": table.name, "dataSourceName": table.data_source_name,
        "dataflowType": table.dataflow_type, "datasourceId": table.data_source_id, "entityType": table.entity_type,
        "attributes": attributes, "keys": [[key]], "timestampAttribute": ts, "refreshTime": iso(table.refresh_time),
        "partitions": [_partition(table, folder, "part-00000", "part-00000.csv", "csv")], **extra})


def entity_size(table: Table, row_count: int) -> dict[str, Any]:
    """``EntitySize`` (size = bytes of the rows as JSON)."""
    return {"qualifiedEntityName": table.name, "size": len(json.dumps(table.rows).encode()), "rowCount": row_count}


def segment(inst: Instance, seg: Segment, history_days: int | None = None) -> dict[str, Any]:
    """``SegmentMetadata``; ``history_days`` fills ``evaluationStatusHistory``."""
    attribute, operator, value = seg.criteria
    body = compact({
        "kind": "default", "name": seg.name, "friendlyName": seg.friendly_name, "description": seg.description,
        "segmentQueryExpression": {
            "type": "structured",
            "projectedAttributes": [],
            "rowsets": [{"rowsetOperation": "none", "rowsetId": seg.rowset_id,
                         "criteria": {"kind": "default", "logicalOperator": "and", "attribute": attribute,
                                      "comparisonOperator": operator, "value": value}}]},
        "state": seg.state,
        "evaluationStatus": compact({"jobStatus": seg.job_status, "evaluationDate": iso(seg.evaluation_date),
                                     "entityCount": seg.entity_count,
                                     "error": {"key": "segmentEvaluationOrchestrationFailed", "value": seg.error}
                                     if seg.error else None,
                                     "lastSuccessfulRunId": seg.last_run_id}),
        "segmentQueryStats": {"rowsetStat": [{"rowsetId": seg.rowset_id, "rowsetCount": seg.entity_count}]},
        **_audit(inst, seg.created, seg.updated, seg.version)})
    if history_days is not None:
        since = utcnow() - timedelta(days=history_days)
        body["evaluationStatusHistory"] = [
            {"evaluationDate": iso(h.date), "entityCount": h.count, "jobStatus": h.status}
            for h in reversed(seg.history) if h.date >= since]
    return body


def _evaluation(state: str, end: datetime | None, run_id: str | None, error: str | None) -> dict[str, Any]:
    return compact({"lastSuccessfulRunId": run_id, "state": state, "endTime": iso(end), "error": error})


def measure(inst: Instance, m: Measure, history_days: int | None = None) -> dict[str, Any]:
    """``MeasureMetadata``; scalar values are keyed by the measure name in ``output.values``."""
    field, alias = m.aggregate[1], m.name
    definition = compact({
        "kind": "attribute" if m.is_profile else "entity", "isScalar": m.is_scalar,
        "linkedEntities": [{"kind": "base", "entity": field.split(".")[0], "alias": field.split(".")[0]}],
        "dimensions": [{"field": f"Customer.{m.dimension}", "alias": m.dimension, "displayName": m.dimension,
                        "order": 0, "bucket": "none", "isReadOnly": False}] if m.dimension else [],
        "aggregates": [{"operation": m.aggregate[0], "field": field, "alias": alias, "displayName": m.display_name,
                        "order": 0, "isIncluded": True}],
        "isProfile": m.is_profile, "type": "structured", "isManualQueryScalar": m.is_scalar})
    body = compact({
        "displayName": m.display_name, "name": m.name, "description": m.description, "definition": definition,
        "latestEvaluation": _evaluation(m.state, m.end_time, m.last_run_id, m.error),
        "output": compact({"values": dict(m.values), "measureName": m.name, "evaluationTime": iso(m.evaluation_time)}),
        "evaluationStats": compact({"lastSuccessful": iso(m.last_successful),
                                    "consecutiveFailureCount": m.failure_count}),
        "errorDescription": {"key": "measuresProcessingOrchestrationFailed", "value": m.error} if m.error else None,
        "isTemplate": False, "isCreatedFromTemplate": False,
        **_audit(inst, m.created, m.updated, m.version)})
    if history_days is not None:
        since = utcnow() - timedelta(days=history_days)
        recent = [h for h in reversed(m.history) if h.time >= since]
        body["evaluationHistory"] = [_evaluation(h.state, h.time, h.run_id, h.error) for h in recent]
        body["outputHistory"] = [{"values": dict(h.values), "measureName": m.name, "evaluationTime": iso(h.time)}
                                 for h in recent]
    return body


def task(t: Task) -> dict[str, Any]:
    """``GraphTaskInfo``."""
    return compact({
        "taskId": t.id, "taskStatus": t.status, "operationType": t.operation_type, "subType": "noSubType",
        "jobIds": [t.job_id], "friendlyName": t.friendly_name, "endTimestamp": iso(t.end), "ciError": t.error,
        "ciErrors": [t.error] if t.error else None, "additionalInfo": {"kind": t.kind} if t.kind else None,
        "submittedTimestamp": iso(t.submitted)})


def job(j: Job, include_tasks: bool) -> dict[str, Any]:
    """``GraphJobInfo``; tasks only with ``include_tasks``."""
    return compact({
        "jobId": j.id, "jobType": j.job_type, "jobSubmissionKind": j.submission_kind, "jobStatus": j.status,
        "operationType": j.operation_type, "subType": "noSubType", "endTimestamp": iso(j.end),
        "shouldForceRunRequestedNodes": j.force_run, "tasks": [task(t) for t in j.tasks] if include_tasks else None,
        "idList": list(j.identifiers), "options": j.options, "submittedTimestamp": iso(j.submitted)})


def node(n: Node) -> dict[str, Any]:
    """``GraphNodeInfo``; a node that never ran reports ``needsUpdate``."""
    t, s = n.latest, n.last_success
    return compact({
        "operationType": n.operation_type, "subType": "noSubType", "identifier": n.identifier,
        "friendlyName": n.friendly_name, "jobIds": [t.job_id] if t else [],
        "taskStatus": t.status if t else "needsUpdate",
        "lastSuccessJobIds": [s.job_id] if s else [], "endTimestamp": iso(t.end) if t else None,
        "lastSuccessfulTimestamp": iso(s.end) if s else None, "ciError": t.error if t else None,
        "ciErrors": [t.error] if t and t.error else [],
        "additionalInfo": {"kind": t.kind} if t and t.kind else None,
        "selectionReason": {"code": "requested" if n.latest_job.submission_kind == "onDemand" else "modifiedInputs"}
        if n.latest_job else None})


def keyring(inst: Instance, customer_id: str, keys: list[tuple[str, str, str]]) -> dict[str, Any]:
    """``KeyRingResponse``; ``keyRing`` lists every source key unified into the customer."""
    return {"instanceId": inst.id, "customerId": customer_id,
            "keyRing": {"customerId": customer_id,
                        "keys": [{"dataSourceName": d, "entityName": e, "key": k} for d, e, k in keys]}}
