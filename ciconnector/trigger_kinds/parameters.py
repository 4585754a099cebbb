"""Trigger parameters: their names (stored with subscriptions, read by detection) and declarations.

Each is a body field (:class:`~ciconnector.operations.Param` with ``location="field"``) of a
kind's subscribe operation, except the instance, which is the path's ``instanceId``.
"""
from __future__ import annotations

from dataclasses import replace

from ciconnector.operations import Param
from ciconnector.operations.common import DATA_SOURCE_PICKER, INSTANCE, SCALAR_MEASURE_PICKER, SEGMENT_PICKER
from ciconnector.operations.params import NAME_MAX_LENGTH, NAME_PATTERN, PRINTABLE_PATTERN

from .thresholds import DEFAULT_DIRECTION, DIRECTIONS

INSTANCE_ID = "instanceId"
DATA_SOURCE_ID = "dataSourceId"
SEGMENT_NAME = "segmentName"
MEASURE_NAME = "measureName"
THRESHOLD = "threshold"
DIRECTION = "direction"
INCLUDE_ON_DEMAND = "includeOnDemand"
"""Parameter names used in subscribe bodies and in the normalized parameters detection reads."""

MAX_NAME_LENGTH = 256
"""Longest segment or measure name accepted (CI names are short identifiers)."""

WATCHED_INSTANCE = replace(INSTANCE, description="The Customer Insights instance to watch.")
DATA_SOURCE = Param(DATA_SOURCE_ID, "field", "string", "Data Source",
                    "The data source to watch, by ID or unique name. Leave empty to watch every data source.",
                    max_length=NAME_MAX_LENGTH, pattern=NAME_PATTERN, picker=DATA_SOURCE_PICKER, resource="dataSource")
SEGMENT = Param(SEGMENT_NAME, "field", "string", "Segment", "The segment to watch.", required=True,
                max_length=MAX_NAME_LENGTH, pattern=PRINTABLE_PATTERN, picker=SEGMENT_PICKER, resource="segment")
MEASURE = Param(MEASURE_NAME, "field", "string", "Measure",
                "The business measure to watch; it must have no dimensions.", required=True,
                max_length=MAX_NAME_LENGTH, pattern=PRINTABLE_PATTERN, picker=SCALAR_MEASURE_PICKER,
                resource="measure")
MEMBER_COUNT_THRESHOLD = Param(THRESHOLD, "field", "integer", "Threshold", "The member count to watch, 0 or more.",
                               required=True, minimum=0)
MEASURE_THRESHOLD = Param(THRESHOLD, "field", "number", "Threshold", "The measure value to watch.", required=True)
DIRECTION_PARAM = Param(DIRECTION, "field", "string", "Direction",
                        "Fire when the value rises above the threshold, falls below it, or either.",
                        default=DEFAULT_DIRECTION, enum=DIRECTIONS)
ON_DEMAND = Param(INCLUDE_ON_DEMAND, "field", "boolean", "Include On-Demand Refreshes",
                  "Also trigger for full refreshes started by hand or by the API.", default=False)
