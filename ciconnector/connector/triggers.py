"""Swagger paths of the webhook triggers, from the trigger catalog.

Contract with the trigger HTTP functions (the catalog declares no routes, so the routes live here):

- subscribe: ``POST /api/instances/{instanceId}/triggers/{kindId}/subscriptions`` with the JSON body
  ``{"callbackUrl": ..., <the kind's other parameters>}``; answers 201 with an absolute ``Location``
  pointing at the unsubscribe URL;
- unsubscribe: ``DELETE /api/instances/{instanceId}/subscriptions/{subscriptionId}`` (idempotent).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable

from ciconnector.actions import Param, Picker
from ciconnector.actions.params import (DATA_SOURCE_PICKER, GUID_PATTERN, INSTANCE, SCALAR_MEASURE_PICKER,
                                        SEGMENT_PICKER)
from ciconnector.triggers import TriggerKind
from ciconnector.triggers.callback import CALLBACK_URL_FIELD
from ciconnector.triggers.parameters import INSTANCE_ID, Parameter

from .operations import ERROR_RESPONSES, parameter, picker_extensions

CALLBACK_FIELD = CALLBACK_URL_FIELD
SUBSCRIBE_ROUTE = "instances/{instanceId}/triggers/%s/subscriptions"
UNSUBSCRIBE_ROUTE = "instances/{instanceId}/subscriptions/{subscriptionId}"
UNSUBSCRIBE_OPERATION = "DeleteTriggerSubscription"

PICKERS: dict[str, Picker] = {"dataSource": DATA_SOURCE_PICKER, "segment": SEGMENT_PICKER,
                              "measure": SCALAR_MEASURE_PICKER}
"""The dropdown of each CI resource kind a trigger parameter can name."""

SUBSCRIPTION = Param("subscriptionId", "path", "string", "Subscription ID", "The subscription to delete.",
                     required=True)

_RESPONSES = {
    "400": {"description": "Invalid trigger parameters or callback URL; the JSON body names the field."},
    "401": ERROR_RESPONSES["401"],
    "429": ERROR_RESPONSES["429"],
    "502": ERROR_RESPONSES["502"],
    "503": {"description": "The subscription store is unavailable; retry after the Retry-After seconds.",
            "headers": {"Retry-After": {"type": "integer", "description": "Seconds to wait before retrying."}}},
}


def subscribe_path(kind: TriggerKind) -> str:
    """The Swagger path of a kind's subscribe operation."""
    return "/" + SUBSCRIBE_ROUTE % kind.id


def body_property(parameter: Parameter) -> dict[str, Any]:
    """A trigger parameter as a property of the subscribe body schema."""
    prop: dict[str, Any] = {"type": parameter.type, "x-ms-summary": parameter.summary,
                            "description": parameter.description}
    if parameter.format == "uuid":
        prop.update(format="uuid", pattern=GUID_PATTERN)
    optional = {"default": parameter.default, "minimum": parameter.minimum,
                "enum": list(parameter.enum) if parameter.enum is not None else None}
    prop.update({k: v for k, v in optional.items() if v is not None})
    picker = PICKERS.get(parameter.resource) if parameter.resource else None
    return {**prop, **picker_extensions(picker)}


def _instance_parameter(kind: TriggerKind) -> dict[str, Any]:
    declared = kind.parameter(INSTANCE_ID)
    return parameter(replace(INSTANCE, summary=declared.summary, description=declared.description))


def subscribe_body(kind: TriggerKind) -> dict[str, Any]:
    """The body parameter: the callback URL (internal, required, ``x-ms-notification-url``) and the parameters."""
    others = [p for p in kind.parameters if p.name != INSTANCE_ID]
    properties = {CALLBACK_FIELD: {
        "type": "string", "x-ms-notification-url": True, "x-ms-visibility": "internal",
        "x-ms-summary": "Callback URL", "description": "The URL the flow is started with; set by the platform."}}
    properties.update({p.name: body_property(p) for p in others})
    schema = {"type": "object", "required": [CALLBACK_FIELD, *(p.name for p in others if p.required)],
              "properties": properties}
    return {"name": "body", "in": "body", "required": True, "x-ms-summary": "Subscription",
            "description": "The callback URL and the trigger parameters.", "schema": schema}


def subscribe_path_item(kind: TriggerKind) -> dict[str, Any]:
    """The path item of a kind: notification content at path level and the subscribe POST."""
    schema = dict(kind.notification_schema)
    return {
        "x-ms-notification-content": {"description": schema.get("description", kind.summary), "schema": schema},
        "post": {
            "operationId": kind.operation_name, "summary": kind.summary, "description": kind.description,
            "x-ms-visibility": "important", "x-ms-trigger": "single", "x-ms-trigger-hint": kind.hint,
            "parameters": [_instance_parameter(kind), subscribe_body(kind)],
            "responses": {"201": {"description": "Subscribed; Location holds the URL that deletes the subscription.",
                                  "headers": {"Location": {"type": "string", "description": "The unsubscribe URL."}}},
                          **_RESPONSES},
        },
    }


def unsubscribe_path_item() -> dict[str, Any]:
    """The internal, idempotent DELETE the platform calls on the subscribe answer's ``Location``."""
    return {"delete": {
        "operationId": UNSUBSCRIBE_OPERATION, "summary": "Delete a trigger subscription",
        "description": "Deletes a trigger subscription; deleting an unknown subscription also succeeds.",
        "x-ms-visibility": "internal",
        "parameters": [parameter(INSTANCE), parameter(SUBSCRIPTION)],
        "responses": {"200": {"description": "Deleted, or there was no such subscription."},
                      "204": {"description": "Deleted, or there was no such subscription."},
                      "401": _RESPONSES["401"], "503": _RESPONSES["503"]},
    }}


def trigger_paths(kinds: Iterable[TriggerKind]) -> dict[str, dict[str, Any]]:
    """Every trigger's subscribe path item, then the shared unsubscribe path item."""
    paths = {subscribe_path(kind): subscribe_path_item(kind) for kind in kinds}
    paths["/" + UNSUBSCRIBE_ROUTE] = unsubscribe_path_item()
    return paths
