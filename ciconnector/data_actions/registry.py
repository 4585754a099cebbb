"""Every action of the connector, in designer order: the single list the HTTP adapter and the
connector definition both read."""
from __future__ import annotations

from .entities import GET_ENTITIES, GET_ENTITY_PARTITIONS, GET_ENTITY_PARTITIONS_V2, GET_PARTITION_DATA
from .items import CREATE_ITEM, GET_ITEM, GET_ITEMS, UPDATE_ITEM
from .lookups import LOOKUPS
from .model import Action
from .profiles import GET_CUSTOMER_BY_ALTERNATE_KEY, SEARCH_CUSTOMER_PROFILES
from .refresh import START_REFRESH
from .reports import GET_STATUS_REPORT, GET_STATUS_REPORT_V2
from .resources import LIST_DATA_SOURCES, LIST_INSTANCES, LIST_MEASURES, LIST_SEGMENTS

ACTIONS: tuple[Action, ...] = (
    GET_ENTITIES, GET_ITEMS, GET_ITEM, CREATE_ITEM, UPDATE_ITEM, GET_PARTITION_DATA, GET_ENTITY_PARTITIONS,
    GET_ENTITY_PARTITIONS_V2, GET_STATUS_REPORT, GET_STATUS_REPORT_V2,
    LIST_INSTANCES, LIST_DATA_SOURCES, LIST_SEGMENTS, LIST_MEASURES, START_REFRESH,
    SEARCH_CUSTOMER_PROFILES, GET_CUSTOMER_BY_ALTERNATE_KEY,
    *LOOKUPS,
)

TEST_CONNECTION_OPERATION = "LookupInstances"
"""The cheap GET the connection test calls (``x-ms-capabilities.testConnection``)."""


def action(operation_id: str) -> Action:
    """The action with ``operation_id``; KeyError when there is none."""
    for candidate in ACTIONS:
        if candidate.operation_id == operation_id:
            return candidate
    raise KeyError(operation_id)
