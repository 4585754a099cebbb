"""The one validator of HTTP inputs: a request against an :class:`~.operation.Operation`'s params.

The rules are the declaration's own (type, enum, bounds, length, pattern, body schema or fields),
so the HTTP answer and the connector definition cannot disagree. Failures are
:class:`~ciconnector.errors.InvalidInput` (400) naming the field, or
:class:`~ciconnector.errors.PayloadTooLarge` (413) for an oversized body.

Path and query values are text as sent. Body fields are JSON values: strings are trimmed (designer
text boxes keep stray spaces), and numbers and booleans may also come as text, because Power
Automate sends a dynamic-content token as a string.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..errors import InvalidInput
from ..request_body import read_json
from .operation import Operation
from .params import Param

MAX_ABS_NUMBER = 2 ** 53
"""Largest number magnitude: beyond it a double (CI's measure values, Power Automate's numbers)
no longer holds every whole number, and far beyond it ``float()`` overflows."""
DOT_SEGMENTS = frozenset({".", ".."})
"""Path values that would rewrite the CI URL (``…/data/Customer/..``) instead of naming a resource."""
_NUMBER = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")
"""Decimal number text (no ``inf``, ``nan``, ``1_000`` or ``0x10``, which ``float()`` would take)."""


@dataclass(frozen=True)
class RawRequest:
    """What an HTTP adapter hands over: route values, query, body bytes and the headers we read."""

    route_params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    content_type: str = ""
    url: str = ""


def validate(operation: Operation, request: RawRequest) -> dict[str, Any]:
    """Every declared parameter (body fields included) by name, validated and converted; omitted
    optional ones at their default."""
    values: dict[str, Any] = {}
    for param in operation.params:
        if param.location == "body":
            document = _document(param, request, operation.max_body_bytes)
            if param.fields:
                values.update(_fields(param, document))
            else:
                values[param.name] = document
        else:
            source = request.route_params if param.location == "path" else request.query
            values[param.name] = validate_value(param, source.get(param.name))
    return values


def validate_value(param: Param, raw: Any) -> Any:
    """The validated, converted value of one path, query or body field value (None = omitted)."""
    if param.rule is not None:
        return param.rule(raw)
    if param.location == "field" and isinstance(raw, str):
        raw = raw.strip()
    if raw is None or raw == "":
        if param.required:
            raise _invalid(param, "MissingParameter", "is required")
        return param.default
    if param.location == "path" and raw in DOT_SEGMENTS:
        raise _invalid(param, "InvalidParameter", "must not be '.' or '..'")
    value = _CONVERTERS[param.type](param, raw)
    if param.enum is not None:
        value = next((e for e in param.enum if e.casefold() == value.casefold()), None)
        if value is None:
            raise _invalid(param, "InvalidParameter", f"must be one of: {', '.join(param.enum)}")
    if param.minimum is not None and value < param.minimum:
        raise _invalid(param, "ParameterOutOfRange", f"must be at least {param.minimum}")
    if param.maximum is not None and value > param.maximum:
        raise _invalid(param, "ParameterOutOfRange", f"must be at most {param.maximum}")
    if param.max_length is not None and len(value) > param.max_length:
        raise _invalid(param, "InvalidParameter", f"must be at most {param.max_length} characters")
    if param.pattern is not None and not _matches(param.pattern, value):
        raise _invalid(param, "InvalidParameter", "has an invalid format")
    return value.lower() if param.format == "uuid" else value


def _invalid(param: Param, code: str, problem: str) -> InvalidInput:
    return InvalidInput(code, f"Parameter '{param.name}' {problem}.", field=param.name)


def _matches(pattern: str, value: str) -> bool:
    """JSON Schema (ECMA) semantics: a final ``$`` matches only at the very end, not before a newline."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.search(pattern, value) is not None


def _string(param: Param, raw: Any) -> str:
    if not isinstance(raw, str):
        raise _invalid(param, "InvalidParameterType", "must be a string")
    return raw


def _number(param: Param, raw: Any) -> int | float:
    """A finite number within ±:data:`MAX_ABS_NUMBER`; whole values come back as ``int``."""
    if isinstance(raw, str) and _NUMBER.match(raw):
        raw = float(raw)
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise _invalid(param, "InvalidParameterType", "must be a number")
    if isinstance(raw, float) and not math.isfinite(raw):
        raise _invalid(param, "InvalidParameterType", "must be a finite number")
    if abs(raw) > MAX_ABS_NUMBER:
        raise _invalid(param, "ParameterOutOfRange", f"must be between -{MAX_ABS_NUMBER} and {MAX_ABS_NUMBER}")
    return int(raw) if isinstance(raw, float) and raw.is_integer() else raw


def _integer(param: Param, raw: Any) -> int:
    value = _number(param, raw)
    if not isinstance(value, int):
        raise _invalid(param, "InvalidParameterType", "must be a whole number")
    return value


def _boolean(param: Param, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise _invalid(param, "InvalidParameterType", "must be true or false")


_CONVERTERS: dict[str, Callable[[Param, Any], Any]] = {
    "string": _string, "integer": _integer, "number": _number, "boolean": _boolean}
"""Converter per declared type. The result's type follows ``param.type`` (a ``str`` for the string
rules enum, max_length and pattern; a number for minimum and maximum), so it is ``Any`` here."""


def _document(param: Param, request: RawRequest, max_bytes: int) -> Any:
    """The body's JSON document, checked against the body's schema or shape."""
    if not request.body.strip():
        if param.required:
            raise InvalidInput("MissingBody", "A JSON request body is required.", field=param.name)
        return param.default
    value = read_json(request.body, request.content_type, max_bytes=max_bytes, field=param.name)
    if param.fields:
        if not isinstance(value, dict):
            raise InvalidInput("InvalidJson", "The body must be a JSON object.", field=param.name)
        return value
    problem = body_problem(param.schema or {}, value)
    if problem is not None:
        raise InvalidInput("InvalidBody", f"Invalid request body: {problem}", field=param.name)
    return value


def _fields(body: Param, document: Mapping[str, Any] | None) -> dict[str, Any]:
    """Each declared field of the body object; a name the body does not declare is refused."""
    document = document or {}
    declared = {f.name for f in body.fields}
    for name in document:
        if name not in declared:
            raise InvalidInput("UnknownParameter", f"Parameter '{name}' is not a parameter of this operation.",
                               field=str(name))
    return {f.name: validate_value(f, document.get(f.name)) for f in body.fields}


_JSON_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}
BODY_SCHEMA_KEYWORDS = frozenset({"type", "minProperties", "additionalProperties", "description"})
"""The JSON Schema keywords free-form body declarations may use (checked here without a schema
library, which the deployed app does not ship; a test keeps declarations within this set)."""


def body_problem(schema: Mapping[str, Any], value: Any) -> str | None:
    """Why ``value`` breaks ``schema`` (limited to :data:`BODY_SCHEMA_KEYWORDS`), or None."""
    expected = schema.get("type")
    if expected is not None and not isinstance(value, _JSON_TYPES[expected]):
        return f"expected a JSON {expected}."
    minimum = schema.get("minProperties")
    if minimum is not None and isinstance(value, dict) and len(value) < minimum:
        return f"expected at least {minimum} propert{'y' if minimum == 1 else 'ies'}."
    return None
