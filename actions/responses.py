"""HTTP answers for the adapters: JSON responses, the one exception → answer conversion, the one
authentication of callers, and the registration of a declared operation as an HTTP function."""
from __future__ import annotations

import json
import logging
from functools import partial
from typing import Any, Callable, Mapping

import azure.functions as func

from ciconnector import services
from ciconnector.auth import Access, Principal, acting_as, authorize
from ciconnector.errors import Forbidden, Unauthenticated
from ciconnector.operations import Operation, RawRequest
from ciconnector.operations.answers import Answer, error_answer
from ciconnector.settings import auth_mode

Handler = Callable[[func.HttpRequest], Answer]
logger = logging.getLogger(__name__)

_ENTRA = auth_mode() == "entra"
USER_LEVEL = func.AuthLevel.ANONYMOUS if _ENTRA else func.AuthLevel.FUNCTION
"""The host-level auth of connector operations: a function key, or none in Entra mode, where the
bearer token is checked by :func:`for_users` instead (Power Automate's connection sends only it)."""
ADMIN_LEVEL = func.AuthLevel.ANONYMOUS if _ENTRA else func.AuthLevel.ADMIN
"""The host-level auth of admin endpoints: the master key, or in Entra mode the admin app role
(:func:`for_admins`)."""


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> func.HttpResponse:
    """A JSON ``HttpResponse`` with ``Cache-Control: no-store``."""
    return func.HttpResponse(json.dumps(body, separators=(",", ":")), status_code=status,
                             mimetype="application/json", charset="utf-8",
                             headers={"Cache-Control": "no-store", **(headers or {})})


def _caller(req: func.HttpRequest, access: Access, operation: str) -> Principal | None:
    """Who the request acts for (None: the app itself), decided by :func:`ciconnector.auth.authorize`.

    Logs the decision with the user's tenant and object id, never the token or a name.
    """
    if access is Access.ANYONE:
        return None
    app = services.app()
    try:
        principal = authorize(req.headers, access, app.settings.auth, app.token_validator)
    except (Unauthenticated, Forbidden) as refused:
        logger.warning("%s refused: %s", operation, refused.code)
        raise
    if principal is not None:
        logger.info("%s by %s", operation, principal.key)
    return principal


def answered(handler: Handler, access: Access = Access.ANYONE) -> Callable[[func.HttpRequest], func.HttpResponse]:
    """``handler`` as an HTTP function: the caller authenticated as ``access`` requires (Entra mode;
    the handler runs as that user, ``ciconnector.auth.current()``), then its answer, or any exception
    answered by :func:`~ciconnector.operations.answers.error_answer` (JSON ``{code, message, field?}``)."""
    def run(req: func.HttpRequest) -> func.HttpResponse:
        try:
            with acting_as(_caller(req, access, handler.__name__)):
                answer = handler(req)
        except Exception as exc:  # noqa: BLE001 - the error table decides, logging included
            answer = error_answer(exc, operation=handler.__name__)
        return json_response(answer.body, status=answer.status, headers=answer.headers)

    run.__name__ = run.__qualname__ = handler.__name__
    return run


for_users = partial(answered, access=Access.USER)
"""``answered`` for a connector operation: a signed-in user in Entra mode."""
for_admins = partial(answered, access=Access.ADMIN)
"""``answered`` for an admin endpoint: the admin app role in Entra mode."""


def raw_request(req: func.HttpRequest) -> RawRequest:
    """The parts of an HTTP request the validator reads."""
    return RawRequest(route_params=req.route_params, query=req.params, body=req.get_body() or b"",
                      content_type=req.headers.get("Content-Type", ""), url=req.url)


def register(bp: func.Blueprint, operation: Operation, handler: Handler) -> None:
    """Register ``handler`` as the HTTP function of ``operation`` (named by its operationId), for users."""
    handler.__name__ = handler.__qualname__ = operation.operation_id
    bp.function_name(operation.operation_id)(
        bp.route(route=operation.route, methods=[operation.method])(for_users(handler)))
