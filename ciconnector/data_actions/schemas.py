"""Helpers to write response schemas: every property carries ``x-ms-summary`` and ``description``.

Responses omit a property whose value is unknown (never ``null``): Swagger 2.0 has no nullable
types, so :func:`compact` drops ``None`` values before a body is sent.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from ciconnector.trigger_kinds import events


def prop(type_: str, summary: str, description: str, **extra: Any) -> dict[str, Any]:
    """A response property of JSON type ``type_``."""
    return {"type": type_, "x-ms-summary": summary, "description": description, **extra}


def timestamp(summary: str, description: str) -> dict[str, Any]:
    """A date-time string property (UTC, to the second, ``Z``: :func:`iso`)."""
    return prop("string", summary, description, format="date-time")


def obj(properties: Mapping[str, Any], *, required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    """An object schema."""
    schema: dict[str, Any] = {"type": "object", "properties": dict(properties)}
    if required:
        schema["required"] = list(required)
    return {**schema, **extra}


def listing(item: Mapping[str, Any], summary: str, description: str) -> dict[str, Any]:
    """``{"value": [item, ...]}``, the shape of every list answer."""
    return obj({"value": prop("array", summary, description, items=dict(item))}, required=("value",))


FREE_OBJECT = {"type": "object", "additionalProperties": True}
"""A row or other object whose fields depend on the instance."""


def compact(value: Mapping[str, Any]) -> dict[str, Any]:
    """``value`` without its ``None`` entries."""
    return {k: v for k, v in value.items() if v is not None}


def iso(moment: datetime | None) -> str | None:
    """``moment`` in the one public timestamp format (:func:`events.public_time`), or None."""
    return None if moment is None else events.public_time(moment)


def ci_time(value: Any) -> str | None:
    """A timestamp CI sent as text (``2025-06-01T02:00:00.1234560Z``) in the public format; None
    when absent or not a date-time."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return iso(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None
