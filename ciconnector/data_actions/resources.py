"""Actions listing CI resources: instances, data sources, segments and measures."""
from __future__ import annotations

import math

from ciconnector.operations.common import INSTANCE, instance_allowed

from .model import Action, Call
from .schemas import compact, iso, listing, obj, prop, timestamp


def _instances(call: Call) -> dict:
    return {"value": [compact({"instanceId": i.instance_id, "name": i.name, "instanceType": i.instance_type})
                      for i in call.ci.list_instances() if instance_allowed(i.instance_id, call.settings.instance_ids)]}


def _data_sources(call: Call) -> dict:
    return {"value": [compact({
        "dataSourceId": d.data_source_id, "name": d.name, "displayName": d.display_name, "kind": d.kind,
        "refreshState": d.refresh_state, "lastRefresh": iso(d.last_refresh), "isActive": d.is_active,
    }) for d in call.ci.list_data_sources(call.instance_id)]}


def _segments(call: Call) -> dict:
    return {"value": [compact({
        "name": s.name, "displayName": s.display_name, "state": s.state, "memberCount": s.member_count,
        "evaluationStatus": s.evaluation_status, "evaluatedAt": iso(s.evaluated_at),
    }) for s in call.ci.list_segments(call.instance_id)]}


def _measures(call: Call) -> dict:
    return {"value": [compact({
        "name": m.name, "displayName": m.display_name or m.name, "isScalar": m.is_scalar,
        "value": m.value if m.is_scalar and m.value is not None and math.isfinite(m.value) else None,
        "evaluationState": m.evaluation_state,
        "evaluatedAt": iso(m.evaluated_at),
    }) for m in call.ci.list_measures(call.instance_id)]}


LIST_INSTANCES = Action(
    operation_id="ListInstances", method="GET", route="instances",
    summary="List instances",
    description="Lists the Customer Insights instances the connector can use.",
    params=(),
    response=listing(obj({
        "instanceId": prop("string", "Instance ID", "The instance ID."),
        "name": prop("string", "Instance Name", "The instance name."),
        "instanceType": prop("string", "Instance Type", "trial, sandbox or production."),
    }, required=("instanceId",)), "Instances", "The instances."),
    handler=_instances)

LIST_DATA_SOURCES = Action(
    operation_id="ListDataSources", method="GET", route="instances/{instanceId}/datasources",
    summary="List data sources",
    description="Lists the data sources of an instance with the time and state of their last refresh.",
    params=(INSTANCE,),
    response=listing(obj({
        "dataSourceId": prop("string", "Data Source ID", "The data source ID."),
        "name": prop("string", "Data Source Name", "The unique name of the data source."),
        "displayName": prop("string", "Display Name", "The friendly name of the data source."),
        "kind": prop("string", "Kind", "The kind of data source, for example powerQuery or attachCdm."),
        "refreshState": prop("string", "Refresh State",
                             "notUpdated, updated, updating, updateFailed or updateCancelled."),
        "lastRefresh": timestamp("Last Refresh", "When the data source was last refreshed."),
        "isActive": prop("boolean", "Is Active", "Whether the data source is active."),
    }, required=("dataSourceId", "name")), "Data Sources", "The data sources."),
    handler=_data_sources)

LIST_SEGMENTS = Action(
    operation_id="ListSegments", method="GET", route="instances/{instanceId}/segments",
    summary="List segments",
    description="Lists the segments of an instance with their member counts from the latest evaluation.",
    params=(INSTANCE,),
    response=listing(obj({
        "name": prop("string", "Segment Name", "The unique name of the segment."),
        "displayName": prop("string", "Display Name", "The friendly name of the segment."),
        "state": prop("string", "State", "inactive, active, validating, validated, invalid or validationError."),
        "memberCount": prop("integer", "Member Count", "Customers in the segment at the latest evaluation.",
                            format="int64"),
        "evaluationStatus": prop("string", "Evaluation Status",
                                 "Status of the latest evaluation, e.g. CompletedSuccess."),
        "evaluatedAt": timestamp("Evaluated At", "When the segment was last evaluated."),
    }, required=("name",)), "Segments", "The segments."),
    handler=_segments)

LIST_MEASURES = Action(
    operation_id="ListMeasures", method="GET", route="instances/{instanceId}/measures",
    summary="List measures",
    description="Lists the measures of an instance; scalar business measures carry their latest value.",
    params=(INSTANCE,),
    response=listing(obj({
        "name": prop("string", "Measure Name", "The unique name of the measure."),
        "displayName": prop("string", "Display Name", "The friendly name of the measure."),
        "isScalar": prop("boolean", "Is Scalar", "Whether the measure is a business measure without dimensions."),
        "value": prop("number", "Value", "The latest value of a scalar measure."),
        "evaluationState": prop("string", "Evaluation State", "none, running, failed or completed."),
        "evaluatedAt": timestamp("Evaluated At", "When the measure was last evaluated."),
    }, required=("name", "isScalar")), "Measures", "The measures."),
    handler=_measures)
