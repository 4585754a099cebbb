"""Parameters and dropdown sources shared by several actions (and by the trigger operations)."""
from __future__ import annotations

from .model import Param, Picker

GUID_PATTERN = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$"
"""A CI resource name (entity, segment, measure, data source): letters, digits, ``_ . -``."""
NAME_MAX_LENGTH = 128
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"
"""Free text without control characters."""

INSTANCE_PICKER = Picker("LookupInstances", value_path="id", title_path="name")
DATA_SOURCE_PICKER = Picker("LookupDataSources", value_path="id", title_path="displayName",
                            parameters={"instanceId": "@instanceId"})
DATA_SOURCE_NAME_PICKER = Picker("LookupDataSources", value_path="name", title_path="displayName",
                                 parameters={"instanceId": "@instanceId"})
SEGMENT_PICKER = Picker("LookupSegments", value_path="name", title_path="displayName",
                        parameters={"instanceId": "@instanceId"})
SCALAR_MEASURE_PICKER = Picker("LookupMeasures", value_path="name", title_path="displayName",
                               parameters={"instanceId": "@instanceId", "scalarOnly": True})
ENTITY_PICKER = Picker("LookupEntities", value_path="name", title_path="displayName",
                       parameters={"instanceId": "@instanceId"})

INSTANCE = Param(
    "instanceId", "path", "string", "Instance", "The Customer Insights instance to use.",
    required=True, pattern=GUID_PATTERN, format="uuid", picker=INSTANCE_PICKER)
ENTITY = Param(
    "entityName", "path", "string", "Entity",
    "The entity (table) name, for example Customer or UnifiedActivity.",
    required=True, pattern=NAME_PATTERN, max_length=NAME_MAX_LENGTH, picker=ENTITY_PICKER)
