"""The one emitter: Swagger path items, operations and parameters from
:class:`~ciconnector.operations.Operation` declarations (actions, subscribe and unsubscribe alike).

Every constraint of a :class:`~ciconnector.operations.Param` the validator enforces becomes its
Swagger keyword here (:func:`constraints`), so what is validated is what is published.
"""
from __future__ import annotations

from typing import Any, Iterable

from ciconnector.operations import Operation, Param, Picker


def _reference(value: Any) -> str | None:
    return value[1:] if isinstance(value, str) and value.startswith("@") else None


def dynamic_values(picker: Picker) -> dict[str, Any]:
    """``x-ms-dynamic-values`` of a picker (``{"parameter": name}`` for references, literals as is)."""
    values: dict[str, Any] = {"operationId": picker.operation_id, "value-collection": picker.collection,
                              "value-path": picker.value_path, "value-title": picker.title_path}
    if picker.parameters:
        values["parameters"] = {name: {"parameter": ref} if (ref := _reference(v)) else v
                                for name, v in picker.parameters.items()}
    return values


def dynamic_list(picker: Picker) -> dict[str, Any]:
    """``x-ms-dynamic-list`` of a picker (``parameterReference`` / ``value``)."""
    listing: dict[str, Any] = {"operationId": picker.operation_id, "itemsPath": picker.collection,
                               "itemValuePath": picker.value_path, "itemTitlePath": picker.title_path}
    if picker.parameters:
        listing["parameters"] = {name: {"parameterReference": ref} if (ref := _reference(v)) else {"value": v}
                                 for name, v in picker.parameters.items()}
    return listing


def picker_extensions(picker: Picker | None) -> dict[str, Any]:
    """Both dropdown extensions (the designer reads ``x-ms-dynamic-list`` first, older clients the other)."""
    if picker is None:
        return {}
    return {"x-ms-dynamic-values": dynamic_values(picker), "x-ms-dynamic-list": dynamic_list(picker)}


CONSTRAINT_KEYWORDS = ("enum", "minimum", "maximum", "maxLength", "pattern")
"""The Swagger keywords that restrict a value, each published from the Param field the validator reads."""


def constraints(param: Param) -> dict[str, Any]:
    """The Swagger keywords of a parameter's declared format, default, constraints and visibility."""
    pairs = {"format": param.format, "default": param.default,
             "enum": list(param.enum) if param.enum is not None else None,
             "minimum": param.minimum, "maximum": param.maximum, "maxLength": param.max_length,
             "pattern": param.pattern, "x-ms-visibility": param.visibility}
    return {k: v for k, v in pairs.items() if v is not None}


def body_field(param: Param) -> dict[str, Any]:
    """A body field as a property of the body schema.

    The callback URL field keeps the key order of Microsoft's webhook samples (notification URL and
    visibility right after the type).
    """
    if param.notification_url:
        return {"type": param.type, "x-ms-notification-url": True, "x-ms-visibility": param.visibility,
                "x-ms-summary": param.summary, "description": param.description}
    return {"type": param.type, "x-ms-summary": param.summary, "description": param.description,
            **constraints(param), **picker_extensions(param.picker)}


def body_schema(param: Param) -> dict[str, Any]:
    """The body's schema: declared as a whole, or an object of its fields."""
    if not param.fields:
        return dict(param.schema or {})
    return {"type": "object", "required": [f.name for f in param.fields if f.required],
            "properties": {f.name: body_field(f) for f in param.fields}}


def parameter(param: Param) -> dict[str, Any]:
    """A Swagger parameter object."""
    base = {"name": param.name, "in": param.location, "required": param.required or param.location == "path",
            "x-ms-summary": param.summary, "description": param.description}
    if param.location == "body":
        return {**base, "schema": body_schema(param)}
    extra = {"x-ms-url-encoding": "single"} if param.location == "path" else {}
    return {**base, "type": param.type, **constraints(param), **extra, **picker_extensions(param.picker)}


def operation(op: Operation) -> dict[str, Any]:
    """The Swagger operation object."""
    out: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary, "description": op.description,
                           "x-ms-visibility": op.visibility}
    if op.trigger_hint is not None:
        out.update({"x-ms-trigger": "single", "x-ms-trigger-hint": op.trigger_hint})
    out["parameters"] = [parameter(p) for p in op.params]
    out["responses"] = {status: dict(response) for status, response in op.responses.items()}
    if op.preview:
        out["x-ms-api-annotation"] = {"status": "Preview"}
    if op.pageable:
        out["x-ms-pageable"] = {"nextLinkName": "@odata.nextLink"}
    return out


def paths(operations: Iterable[Operation]) -> dict[str, dict[str, Any]]:
    """Swagger ``paths``: one path item per route, a trigger's notification content at path level."""
    items: dict[str, dict[str, Any]] = {}
    for op in operations:
        item = items.setdefault(op.path, {})
        if op.notification is not None:
            item["x-ms-notification-content"] = dict(op.notification)
        item[op.method.lower()] = operation(op)
    return items
