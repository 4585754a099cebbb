"""HTTP functions of the connector actions: one per declaration in ``ciconnector.actions.ACTIONS``.

Function-key auth (the app default); the function name is the action's operationId.
"""
import azure.functions as func

from ciconnector import services
from ciconnector.actions import ACTIONS, Action, execute
from ciconnector.operations.answers import Answer

from .responses import Handler, raw_request, register

bp = func.Blueprint()


def _handler(action: Action) -> Handler:
    def handle(req: func.HttpRequest) -> Answer:
        return execute(action, raw_request(req), ci=services.ci_client(), settings=services.settings())
    return handle


for _action in ACTIONS:
    register(bp, _action, _handler(_action))
