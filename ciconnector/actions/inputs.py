"""Validation of an HTTP request's inputs against an action's declared parameters.

The rules are the declaration's own (type, enum, bounds, length, pattern, body schema), so the
HTTP answer and the connector definition cannot disagree. Failures are 400s naming the field.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..request_body import BodyError, read_json
from .errors import ActionError, bad_input
from .model import Action, Param

_INTEGER = re.compile(r"^[+-]?\d{1,18}$")
MAX_BODY_BYTES = 1024 * 1024
"""Largest action body accepted (413 beyond): a CI item is a few kilobytes; 1 MiB leaves room
for wide entities without letting a flow push megabytes through to CI."""
DOT_SEGMENTS = frozenset({".", ".."})
"""Path values that would rewrite the CI URL (``…/data/Customer/..``) instead of naming a resource."""


@dataclass(frozen=True)
class RawRequest:
    """What the HTTP adapter hands over: route values, query, body bytes and headers we read."""

    route_params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    content_type: str = ""
    url: str = ""


def parse_inputs(action: Action, request: RawRequest) -> dict[str, Any]:
    """Every declared parameter by name, validated and converted (omitted optional ones at their default)."""
    values: dict[str, Any] = {}
    for param in action.params:
        if param.location == "body":
            values[param.name] = _body(param, request)
        else:
            source = request.route_params if param.location == "path" else request.query
            values[param.name] = _scalar(param, source.get(param.name))
    return values


def _scalar(param: Param, raw: str | None) -> Any:
    if raw is None or raw == "":
        if param.required:
            raise bad_input("MissingParameter", f"Parameter '{param.name}' is required.", param.name)
        return param.default
    if param.location == "path" and raw in DOT_SEGMENTS:
        raise bad_input("InvalidParameter", f"Parameter '{param.name}' must not be '.' or '..'.", param.name)
    value = _CONVERTERS[param.type](param, raw)
    if param.enum is not None:
        match = next((e for e in param.enum if e.casefold() == value.casefold()), None)
        if match is None:
            raise bad_input("InvalidParameter",
                            f"Parameter '{param.name}' must be one of: {', '.join(param.enum)}.", param.name)
        value = match
    if param.minimum is not None and value < param.minimum:
        raise bad_input("ParameterOutOfRange", f"Parameter '{param.name}' must be at least {param.minimum}.",
                        param.name)
    if param.maximum is not None and value > param.maximum:
        raise bad_input("ParameterOutOfRange", f"Parameter '{param.name}' must be at most {param.maximum}.",
                        param.name)
    if param.max_length is not None and len(value) > param.max_length:
        raise bad_input("InvalidParameter",
                        f"Parameter '{param.name}' must be at most {param.max_length} characters.", param.name)
    if param.pattern is not None and not _matches(param.pattern, value):
        raise bad_input("InvalidParameter", f"Parameter '{param.name}' has an invalid format.", param.name)
    return value


def _matches(pattern: str, value: str) -> bool:
    """JSON Schema (ECMA) semantics: a final ``$`` matches only at the very end, not before a newline."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.search(pattern, value) is not None


def _string(param: Param, raw: str) -> str:
    return raw


def _integer(param: Param, raw: str) -> int:
    if not _INTEGER.match(raw.strip()):
        raise bad_input("InvalidParameterType", f"Parameter '{param.name}' must be a whole number.", param.name)
    return int(raw)


def _number(param: Param, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise bad_input("InvalidParameterType", f"Parameter '{param.name}' must be a number.", param.name)
    return value


def _boolean(param: Param, raw: str) -> bool:
    text = raw.strip().lower()
    if text not in ("true", "false"):
        raise bad_input("InvalidParameterType", f"Parameter '{param.name}' must be true or false.", param.name)
    return text == "true"


_CONVERTERS = {"string": _string, "integer": _integer, "number": _number, "boolean": _boolean}


def _body(param: Param, request: RawRequest) -> Any:
    if not request.body.strip():
        if param.required:
            raise bad_input("MissingBody", "A JSON request body is required.", param.name)
        return param.default
    try:
        value = read_json(request.body, request.content_type, max_bytes=MAX_BODY_BYTES)
    except BodyError as exc:
        raise ActionError(exc.status, exc.code, exc.message, field=param.name) from None
    problem = body_problem(param.schema or {}, value)
    if problem is not None:
        raise ActionError(400, "InvalidBody", f"Invalid request body: {problem}", field=param.name)
    return value


_JSON_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}
BODY_SCHEMA_KEYWORDS = frozenset({"type", "minProperties", "additionalProperties", "description"})
"""The JSON Schema keywords body declarations may use (checked here without a schema library,
which the deployed app does not ship; a test keeps declarations within this set)."""


def body_problem(schema: Mapping[str, Any], value: Any) -> str | None:
    """Why ``value`` breaks ``schema`` (limited to :data:`BODY_SCHEMA_KEYWORDS`), or None."""
    expected = schema.get("type")
    if expected is not None and not isinstance(value, _JSON_TYPES[expected]):
        return f"expected a JSON {expected}."
    minimum = schema.get("minProperties")
    if minimum is not None and isinstance(value, dict) and len(value) < minimum:
        return f"expected at least {minimum} propert{'y' if minimum == 1 else 'ies'}."
    return None
