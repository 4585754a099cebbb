"""HTTP functions of the connector actions: one per declaration in ``ciconnector.actions.ACTIONS``.

Function-key auth (the app default); the function name is the action's operationId.
"""
from typing import Callable

import azure.functions as func

from ciconnector import services
from ciconnector.actions import ACTIONS, Action, RawRequest, execute

from .responses import json_response

bp = func.Blueprint()


def _handler(action: Action) -> Callable[[func.HttpRequest], func.HttpResponse]:
    def handle(req: func.HttpRequest) -> func.HttpResponse:
        request = RawRequest(route_params=req.route_params, query=req.params, body=req.get_body() or b"",
                             content_type=req.headers.get("Content-Type", ""), url=req.url)
        outcome = execute(action, request, ci=services.ci_client(), settings=services.settings())
        return json_response(outcome.body, status=outcome.status, headers=outcome.headers)

    handle.__name__ = handle.__qualname__ = action.operation_id
    return handle


for _action in ACTIONS:
    bp.function_name(_action.operation_id)(
        bp.route(route=_action.route, methods=[_action.method])(_handler(_action)))
