"""The connector's ``apiProperties.json``: the function-key connection parameter, publisher, colour."""
from __future__ import annotations

from typing import Any, Iterable

from ciconnector.actions import ACTIONS, Action

from . import metadata


def build_api_properties(actions: Iterable[Action] = ACTIONS) -> dict[str, Any]:
    """apiProperties.json; each pageable action gets the ``updatenextlink`` policy so paging goes
    through the connector (and so carries the connection's key)."""
    paging = [{
        "templateId": "updatenextlink",
        "title": f"Route the next page link of {action.operation_id} through the connector",
        "parameters": {"x-ms-apimTemplate-operationName": [action.operation_id],
                       "x-ms-apimTemplateParameter.nextLinkPropertyName": "@odata.nextLink"},
    } for action in actions if action.pageable]
    return {"properties": {
        "connectionParameters": {metadata.SECURITY_SCHEME: {"type": "securestring", "uiDefinition": {
            "displayName": "Function key",
            "description": "A function key of the function app that runs the connector backend.",
            "tooltip": "In the Azure portal: your function app, then Functions, App keys; copy the default key.",
            "constraints": {"tabIndex": 2, "clearText": False, "required": "true"},
        }}},
        "iconBrandColor": metadata.ICON_BRAND_COLOR,
        "capabilities": ["actions", "triggers"],
        "publisher": metadata.PUBLISHER,
        "stackOwner": metadata.PUBLISHER,
        "policyTemplateInstances": paging,
    }}
