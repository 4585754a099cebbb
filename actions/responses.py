"""HTTP answers for the adapters: JSON responses, the one exception → answer conversion, and the
registration of a declared operation as an HTTP function."""
from __future__ import annotations

import json
from typing import Any, Callable, Mapping

import azure.functions as func

from ciconnector.operations import Operation, RawRequest
from ciconnector.operations.answers import Answer, error_answer

Handler = Callable[[func.HttpRequest], Answer]


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> func.HttpResponse:
    """A JSON ``HttpResponse`` with ``Cache-Control: no-store``."""
    return func.HttpResponse(json.dumps(body, separators=(",", ":")), status_code=status,
                             mimetype="application/json", charset="utf-8",
                             headers={"Cache-Control": "no-store", **(headers or {})})


def answered(handler: Handler) -> Callable[[func.HttpRequest], func.HttpResponse]:
    """``handler`` as an HTTP function: its answer, or any exception it raises answered by
    :func:`~ciconnector.operations.answers.error_answer` (JSON ``{code, message, field?}``)."""
    def run(req: func.HttpRequest) -> func.HttpResponse:
        try:
            answer = handler(req)
        except Exception as exc:  # noqa: BLE001 - the error table decides, logging included
            answer = error_answer(exc, operation=handler.__name__)
        return json_response(answer.body, status=answer.status, headers=answer.headers)

    run.__name__ = run.__qualname__ = handler.__name__
    return run


def raw_request(req: func.HttpRequest) -> RawRequest:
    """The parts of an HTTP request the validator reads."""
    return RawRequest(route_params=req.route_params, query=req.params, body=req.get_body() or b"",
                      content_type=req.headers.get("Content-Type", ""), url=req.url)


def register(bp: func.Blueprint, operation: Operation, handler: Handler) -> None:
    """Register ``handler`` as the HTTP function of ``operation`` (named by its operationId)."""
    handler.__name__ = handler.__qualname__ = operation.operation_id
    bp.function_name(operation.operation_id)(
        bp.route(route=operation.route, methods=[operation.method])(answered(handler)))
