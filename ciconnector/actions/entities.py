"""Entity (table) metadata actions: Get entities, Retrieve partitions for an entity."""
from __future__ import annotations

from typing import Any

from ciconnector.operations.common import ENTITY, INSTANCE

from .lookups import entity_name
from .model import Action, Call
from .schemas import compact, listing, obj, prop


def _text(data: dict, key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def _objects(data: dict, key: str) -> list[dict]:
    value = data.get(key)
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _entity(entity: dict) -> dict[str, Any] | None:
    name = entity_name(entity)
    if name is None:
        return None
    attributes = [compact({"name": _text(a, "name"), "dataType": _text(a, "dataType")})
                  for a in _objects(entity, "attributes") if _text(a, "name")]
    return compact({
        "name": name, "entityType": _text(entity, "entityType"), "dataSourceName": _text(entity, "dataSourceName"),
        "refreshTime": _text(entity, "refreshTime"), "attributes": attributes,
    })


def _entities(call: Call) -> dict:
    return {"value": [e for e in map(_entity, call.ci.list_entities(call.instance_id)) if e]}


def _partitions(call: Call) -> dict:
    entity = call.ci.get_entity(call.instance_id, call.args["entityName"])
    return {"value": [compact({
        "name": _text(p, "name"), "location": _text(p, "location"), "refreshTime": _text(p, "refreshTime"),
        "isCIGenerated": p.get("isCIGenerated") if isinstance(p.get("isCIGenerated"), bool) else None,
    }) for p in _objects(entity, "partitions")]}


GET_ENTITIES = Action(
    operation_id="GetEntities", method="GET", route="instances/{instanceId}/entities",
    summary="Get entities",
    description="Gets the entities (tables) of an instance with their type, source and attributes.",
    params=(INSTANCE,),
    response=listing(obj({
        "name": prop("string", "Entity Name", "The name to query the entity with."),
        "entityType": prop("string", "Entity Type", "For example profile, activity, unifiedActivity or segment."),
        "dataSourceName": prop("string", "Data Source Name", "The data source the entity comes from."),
        "refreshTime": prop("string", "Refresh Time", "When the entity was last refreshed."),
        "attributes": prop("array", "Attributes", "The attributes (columns) of the entity.", items=obj({
            "name": prop("string", "Attribute Name", "The attribute name."),
            "dataType": prop("string", "Data Type", "The attribute data type."),
        })),
    }, required=("name",)), "Entities", "The entities."),
    handler=_entities)

GET_ENTITY_PARTITIONS = Action(
    operation_id="GetEntityPartitions", method="GET", route="instances/{instanceId}/entities/{entityName}/partitions",
    summary="Retrieve partitions for an entity",
    description="Retrieves the data partitions (files) that hold the rows of an entity.",
    params=(INSTANCE, ENTITY),
    response=listing(obj({
        "name": prop("string", "Partition Name", "The partition name."),
        "location": prop("string", "Location", "Where the partition data is stored."),
        "refreshTime": prop("string", "Refresh Time", "When the partition was last refreshed."),
        "isCIGenerated": prop("boolean", "Is Generated", "Whether Customer Insights generated the partition."),
    }), "Partitions", "The partitions."),
    handler=_partitions)
