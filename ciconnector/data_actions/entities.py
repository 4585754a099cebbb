"""Entity (table) metadata actions: Get entities, Retrieve partitions for an entity."""
from __future__ import annotations

from typing import Any

from ciconnector.errors import InvalidInput, NotFound
from ciconnector.operations import Param, Picker
from ciconnector.operations.common import ENTITY, INSTANCE
from ciconnector.operations.params import NAME_MAX_LENGTH, NAME_PATTERN

from .items import PAGE_PARAMS, PAGE_RESPONSE, read_page
from .lookups import entity_name
from .model import Action, Call
from .schemas import ci_time, compact, listing, obj, prop, timestamp


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
        "refreshTime": ci_time(entity.get("refreshTime")), "attributes": attributes,
    })


def _entities(call: Call) -> dict:
    return {"value": [e for e in map(_entity, call.ci.list_entities(call.instance_id)) if e]}


PARTITION_LISTS = {"partitions": ("full", "csv"), "fullPartitionsParquet": ("full", "parquet"),
                   "incrementalUpsertPartitions": ("incrementalUpsert", "csv"),
                   "incrementalDeletePartitions": ("incrementalDelete", "csv"),
                   "incrementalUpsertPartitionsParquet": ("incrementalUpsert", "parquet"),
                   "incrementalDeletePartitionsParquet": ("incrementalDelete", "parquet")}
"""``IEntityMetadata`` partition lists → (kind, file format) of their partitions, for the V2 answer."""


def _partition(p: dict, **extra: Any) -> dict[str, Any]:
    return compact({
        "name": _text(p, "name"), "location": _text(p, "location"), "refreshTime": ci_time(p.get("refreshTime")),
        "isCIGenerated": p.get("isCIGenerated") if isinstance(p.get("isCIGenerated"), bool) else None, **extra})


def _partitions(call: Call) -> dict:
    entity = call.ci.get_entity(call.instance_id, call.args["entityName"])
    return {"value": [_partition(p) for p in _objects(entity, "partitions")]}


def _partitions_v2(call: Call) -> dict:
    entity = call.ci.get_entity(call.instance_id, call.args["entityName"])
    return {"entityName": call.args["entityName"], "refreshTime": ci_time(entity.get("refreshTime")),
            "value": [_partition(p, kind=kind, format=fmt) for key, (kind, fmt) in PARTITION_LISTS.items()
                      for p in _objects(entity, key)]}


def _partition_data(call: Call) -> dict:
    """The rows of a full partition. CI's API reads rows per entity, not per file, so only an
    entity held by a single full partition can be read this way (see connector/README.md)."""
    args = call.args
    entity = call.ci.get_entity(call.instance_id, args["entityName"])
    full = [_text(p, "name") for p in _objects(entity, "partitions")]
    others = [_text(p, "name") for key in PARTITION_LISTS if key != "partitions" for p in _objects(entity, key)]
    name = args["partitionName"]
    if name not in full:
        if name in others:
            raise InvalidInput("PartitionNotReadable", f"Partition '{name}' is an incremental or Parquet copy; "
                               "only the entity's full partition can be read.", field="partitionName")
        raise NotFound("PartitionNotFound", f"Entity '{args['entityName']}' has no partition '{name}'.",
                       field="partitionName")
    if len(full) > 1:
        raise InvalidInput("PartitionNotReadable", f"Entity '{args['entityName']}' is split into {len(full)} "
                           "partitions; read it with Get items from an entity.", field="partitionName")
    page = read_page(call, args["entityName"])
    return {"entityName": args["entityName"], "partitionName": name, **page}


GET_ENTITIES = Action(
    operation_id="GetEntities", method="GET", route="instances/{instanceId}/entities",
    summary="Get entities",
    description="Gets the entities (tables) of an instance with their type, source and attributes.",
    params=(INSTANCE,),
    response=listing(obj({
        "name": prop("string", "Entity Name", "The name to query the entity with."),
        "entityType": prop("string", "Entity Type", "For example profile, activity, unifiedActivity or segment."),
        "dataSourceName": prop("string", "Data Source Name", "The data source the entity comes from."),
        "refreshTime": timestamp("Refresh Time", "When the entity was last refreshed."),
        "attributes": prop("array", "Attributes", "The attributes (columns) of the entity.", items=obj({
            "name": prop("string", "Attribute Name", "The attribute name."),
            "dataType": prop("string", "Data Type", "The attribute data type."),
        })),
    }, required=("name",)), "Entities", "The entities."),
    handler=_entities)

_PARTITION_FIELDS = {
    "name": prop("string", "Partition Name", "The partition name."),
    "location": prop("string", "Partition Location", "Where Customer Insights stores the partition file."),
    "refreshTime": timestamp("Partition Refresh Time", "When the partition was last refreshed."),
    "isCIGenerated": prop("boolean", "Is Generated", "Whether Customer Insights generated the partition."),
}

GET_ENTITY_PARTITIONS = Action(
    operation_id="GetEntityPartitions", method="GET", route="instances/{instanceId}/entities/{entityName}/partitions",
    summary="Retrieve partitions for an entity (Preview)",
    description="Retrieves the data partitions (files) that hold the full data of an entity.",
    params=(INSTANCE, ENTITY),
    response=listing(obj(_PARTITION_FIELDS), "Partitions", "The partitions."),
    handler=_partitions, preview=True)

GET_ENTITY_PARTITIONS_V2 = Action(
    operation_id="GetEntityPartitionsV2", method="GET",
    route="instances/{instanceId}/entities/{entityName}/partitions/v2",
    summary="Retrieve partitions for an entity V2 (Preview)",
    description=("Retrieves every partition of an entity: the full data and the incremental upserts and "
                 "deletes, in CSV and Parquet, each with its kind and file format."),
    params=(INSTANCE, ENTITY),
    response=obj({
        "entityName": prop("string", "Entity Name", "The entity the partitions belong to."),
        "refreshTime": timestamp("Entity Refresh Time", "When the entity was last refreshed."),
        "value": prop("array", "Partitions", "The partitions.", items=obj({
            **_PARTITION_FIELDS,
            "kind": prop("string", "Partition Kind", "full, incrementalUpsert or incrementalDelete.",
                         enum=["full", "incrementalUpsert", "incrementalDelete"]),
            "format": prop("string", "File Format", "csv or parquet.", enum=["csv", "parquet"]),
        }, required=("kind", "format"))),
    }, required=("entityName", "value")),
    handler=_partitions_v2, preview=True)

GET_PARTITION_DATA = Action(
    operation_id="GetPartitionData", method="GET",
    route="instances/{instanceId}/entities/{entityName}/partitions/{partitionName}/data",
    summary="Retrieve data from a partition (Preview)",
    description=("Retrieves the rows of an entity's full data partition, a page at a time. Entities split "
                 "into several partitions are read with Get items from an entity."),
    params=(INSTANCE, ENTITY,
            Param("partitionName", "path", "string", "Partition",
                  "The partition name, as Retrieve partitions for an entity lists it.", required=True,
                  max_length=NAME_MAX_LENGTH, pattern=NAME_PATTERN,
                  picker=Picker("LookupPartitions", value_path="name", title_path="name",
                                parameters={"instanceId": "@instanceId", "entityName": "@entityName"})),
            *PAGE_PARAMS),
    response=obj({
        "entityName": prop("string", "Entity Name", "The entity of the partition."),
        "partitionName": prop("string", "Partition Name", "The partition read."),
        **PAGE_RESPONSE["properties"],
    }, required=("entityName", "partitionName", "value")),
    handler=_partition_data, preview=True, pageable=True)
