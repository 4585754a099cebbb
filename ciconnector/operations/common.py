"""Parameters, dropdown sources and error responses shared by actions and trigger operations, and
the instance allowlist every operation naming an instance applies."""
from __future__ import annotations

from typing import Any, Collection, Mapping

from .params import GUID_PATTERN, NAME_MAX_LENGTH, NAME_PATTERN, Param, Picker

INSTANCE_PICKER = Picker("LookupInstances", value_path="id", title_path="name")
DATA_SOURCE_PICKER = Picker("LookupDataSources", value_path="id", title_path="displayName",
                            parameters={"instanceId": "@instanceId"})
"""Every data source input: the dropdown shows display names and sends the ID; typed values may be
the ID or the unique name (one meaning for the label "Data Source")."""
SEGMENT_PICKER = Picker("LookupSegments", value_path="name", title_path="displayName",
                        parameters={"instanceId": "@instanceId"})
SCALAR_MEASURE_PICKER = Picker("LookupMeasures", value_path="name", title_path="displayName",
                               parameters={"instanceId": "@instanceId", "scalarOnly": True})
ENTITY_PICKER = Picker("LookupEntities", value_path="name", title_path="displayName",
                       parameters={"instanceId": "@instanceId"})

INSTANCE = Param(
    "instanceId", "path", "string", "Instance", "The Customer Insights instance to use.",
    required=True, pattern=GUID_PATTERN, format="uuid", picker=INSTANCE_PICKER, resource="instance")
ENTITY = Param(
    "entityName", "path", "string", "Entity",
    "The entity (table) name, for example Customer or UnifiedActivity.",
    required=True, pattern=NAME_PATTERN, max_length=NAME_MAX_LENGTH, picker=ENTITY_PICKER)

_RETRY_AFTER = {"Retry-After": {"type": "integer", "description": "Seconds to wait before retrying."}}
ERROR_RESPONSES: Mapping[str, Mapping[str, Any]] = {
    "400": {"description": "Bad input; the JSON body {code, message, field} names the field."},
    "401": {"description": "The function key is missing or wrong."},
    "404": {"description": "No such instance, entity, item or other resource."},
    "429": {"description": "Customer Insights is throttling; retry after the Retry-After seconds.",
            "headers": _RETRY_AFTER},
    "502": {"description": "Customer Insights failed, timed out or refused the backend's credentials."},
}
"""Error answers of every action, published schema-less so each operation has a single response schema."""
STORAGE_UNAVAILABLE_RESPONSE: Mapping[str, Any] = {
    "description": "The subscription store is unavailable; retry after the Retry-After seconds.",
    "headers": _RETRY_AFTER}
"""The 503 of the operations that read or write subscriptions."""


def instance_allowed(instance_id: str, allowlist: Collection[str]) -> bool:
    """Whether ``instance_id`` passes the ``CI_INSTANCE_IDS`` allowlist (lower-case ids; empty = all pass)."""
    return not allowlist or instance_id.lower() in allowlist
