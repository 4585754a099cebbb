"""Swagger operations from the action declarations."""
from __future__ import annotations

from typing import Any

from ciconnector.actions import Action, Param, Picker

ERROR_RESPONSES: dict[str, dict[str, Any]] = {
    "400": {"description": "Bad input; the JSON body {code, message, field} names the field."},
    "401": {"description": "The function key is missing or wrong."},
    "404": {"description": "No such instance, entity, item or other resource."},
    "429": {"description": "Customer Insights is throttling; retry after the Retry-After seconds.",
            "headers": {"Retry-After": {"type": "integer", "description": "Seconds to wait before retrying."}}},
    "502": {"description": "Customer Insights failed, timed out or refused the backend's credentials."},
}
"""Error answers of every action; schema-less so each operation has a single response schema."""


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


def constraints(param: Param) -> dict[str, Any]:
    """The Swagger keywords of a parameter's declared constraints."""
    pairs = {"format": param.format, "default": param.default,
             "enum": list(param.enum) if param.enum is not None else None,
             "minimum": param.minimum, "maximum": param.maximum, "maxLength": param.max_length,
             "pattern": param.pattern, "x-ms-visibility": param.visibility}
    return {k: v for k, v in pairs.items() if v is not None}


def parameter(param: Param) -> dict[str, Any]:
    """A Swagger parameter object."""
    base = {"name": param.name, "in": param.location, "required": param.required or param.location == "path",
            "x-ms-summary": param.summary, "description": param.description}
    if param.location == "body":
        return {**base, "schema": dict(param.schema or {})}
    extra = {"x-ms-url-encoding": "single"} if param.location == "path" else {}
    return {**base, "type": param.type, **constraints(param), **extra, **picker_extensions(param.picker)}


def operation(action: Action) -> dict[str, Any]:
    """The Swagger operation object of an action."""
    op: dict[str, Any] = {
        "operationId": action.operation_id, "summary": action.summary, "description": action.description,
        "x-ms-visibility": action.visibility,
        "parameters": [parameter(p) for p in action.params],
        "responses": {str(action.status): {"description": action.response_description,
                                           "schema": dict(action.response)}, **ERROR_RESPONSES},
    }
    if action.preview:
        op["x-ms-api-annotation"] = {"status": "Preview"}
    if action.pageable:
        op["x-ms-pageable"] = {"nextLinkName": "@odata.nextLink"}
    return op
