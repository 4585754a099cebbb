"""HTTP functions of the connector actions: one per declaration in ``ciconnector.data_actions.ACTIONS``.

Function-key auth (the app default), or in Entra mode the user's token, CI then called on the user's
behalf; the function name is the action's operationId.
"""
import azure.functions as func

from ciconnector import auth, services
from ciconnector.data_actions import ACTIONS, Action, execute
from ciconnector.operations.answers import Answer

from .responses import Handler, raw_request, register

bp = func.Blueprint()


def _handler(action: Action) -> Handler:
    def handle(req: func.HttpRequest) -> Answer:
        return execute(action, raw_request(req), ci=services.app().ci_for(auth.current()),
                       settings=services.app().settings)
    return handle


for _action in ACTIONS:
    register(bp, _action, _handler(_action))
