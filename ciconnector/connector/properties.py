"""The connector's ``apiProperties.json``: the connection parameter (function key or Entra ID), publisher, colour."""
from __future__ import annotations

from typing import Any, Iterable

from ciconnector.data_actions import ACTIONS, Action

from . import metadata
from .security import EntraConnection, connection_parameters


def build_api_properties(actions: Iterable[Action] = ACTIONS, entra: EntraConnection | None = None) -> dict[str, Any]:
    """apiProperties.json (a function-key connection, or with ``entra`` an Entra ID sign-in); each
    pageable action gets the ``updatenextlink`` policy so paging goes through the connector (and so
    carries the connection's credential)."""
    paging = [{
        "templateId": "updatenextlink",
        "title": f"Route the next page link of {action.operation_id} through the connector",
        "parameters": {"x-ms-apimTemplate-operationName": [action.operation_id],
                       "x-ms-apimTemplateParameter.nextLinkPropertyName": "@odata.nextLink"},
    } for action in actions if action.pageable]
    return {"properties": {
        "connectionParameters": connection_parameters(entra),
        "iconBrandColor": metadata.ICON_BRAND_COLOR,
        "capabilities": ["actions", "triggers"],
        "publisher": metadata.PUBLISHER,
        "stackOwner": metadata.PUBLISHER,
        "policyTemplateInstances": paging,
    }}
