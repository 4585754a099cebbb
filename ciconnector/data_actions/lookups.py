"""Internal operations that fill the designer's dropdowns (instance, data source, segment, measure, entity).

Each answers ``{"value": [...]}`` with a value field and a display title per item; they are
``internal`` so makers never see them as actions.
"""
from __future__ import annotations

from typing import Callable

from ciconnector.operations import Param
from ciconnector.operations.common import ENTITY, INSTANCE, instance_allowed

from .model import Action, Call
from .schemas import listing, prop


def entity_name(entity: dict) -> str | None:
    """The name the data endpoint takes: ``qualifiedEntityName`` (``{DataSource}_{Entity}``), else ``name``."""
    name = entity.get("qualifiedEntityName") or entity.get("name")
    return name if isinstance(name, str) and name else None


def _instances(call: Call) -> dict:
    return {"value": [{"id": i.instance_id, "name": i.name or i.instance_id}
                      for i in call.ci.list_instances() if instance_allowed(i.instance_id, call.settings.instance_ids)]}


def _data_sources(call: Call) -> dict:
    return {"value": [{"id": d.data_source_id, "name": d.name, "displayName": d.display_name}
                      for d in call.ci.list_data_sources(call.instance_id)]}


def _segments(call: Call) -> dict:
    return {"value": [{"name": s.name, "displayName": s.display_name}
                      for s in call.ci.list_segments(call.instance_id)]}


def _measures(call: Call) -> dict:
    scalar_only = call.args["scalarOnly"]
    return {"value": [{"name": m.name, "displayName": m.display_name or m.name, "isScalar": m.is_scalar}
                      for m in call.ci.list_measures(call.instance_id) if m.is_scalar or not scalar_only]}


def _entities(call: Call) -> dict:
    items = []
    for entity in call.ci.list_entities(call.instance_id):
        name = entity_name(entity)
        if name:
            items.append({"name": name, "displayName": name})
    return {"value": items}


def _partitions(call: Call) -> dict:
    entity = call.ci.get_entity(call.instance_id, call.args["entityName"])
    partitions = entity.get("partitions")
    return {"value": [{"name": p["name"]} for p in partitions if isinstance(p, dict) and isinstance(p.get("name"), str)]
            if isinstance(partitions, list) else []}


def _lookup(operation_id: str, route: str, noun: str, handler: Callable[[Call], dict], item: dict,
            params: tuple[Param, ...] = (INSTANCE,)) -> Action:
    return Action(
        operation_id=operation_id, method="GET", route=route,
        summary=f"List {noun} for a dropdown",
        description=f"Lists the {noun} of Customer Insights with a value and a title each, to fill a dropdown.",
        params=params, response=listing(item, noun.title(), f"The {noun}."),
        handler=handler, visibility="internal")


_ID = prop("string", "ID", "The value to use.")
_DISPLAY = prop("string", "Display Name", "The name shown to makers.")

LOOKUPS: tuple[Action, ...] = (
    _lookup("LookupInstances", "lookups/instances", "instances", _instances,
            {"type": "object", "properties": {"id": _ID, "name": prop("string", "Name", "The instance name.")}},
            params=()),
    _lookup("LookupDataSources", "instances/{instanceId}/lookups/datasources", "data sources", _data_sources,
            {"type": "object", "properties": {"id": _ID, "name": prop("string", "Name", "The unique name."),
                                              "displayName": _DISPLAY}}),
    _lookup("LookupSegments", "instances/{instanceId}/lookups/segments", "segments", _segments,
            {"type": "object", "properties": {"name": _ID, "displayName": _DISPLAY}}),
    _lookup("LookupMeasures", "instances/{instanceId}/lookups/measures", "measures", _measures,
            {"type": "object", "properties": {
                "name": _ID, "displayName": _DISPLAY,
                "isScalar": prop("boolean", "Is Scalar",
                                 "Whether the measure is a business measure without dimensions.")}},
            params=(INSTANCE, Param("scalarOnly", "query", "boolean", "Scalar Only",
                                    "List only business measures without dimensions.", default=False))),
    _lookup("LookupEntities", "instances/{instanceId}/lookups/entities", "entities", _entities,
            {"type": "object", "properties": {"name": _ID, "displayName": _DISPLAY}}),
    _lookup("LookupPartitions", "instances/{instanceId}/lookups/entities/{entityName}/partitions",
            "full data partitions", _partitions, {"type": "object", "properties": {"name": _ID}},
            params=(INSTANCE, ENTITY)),
)
