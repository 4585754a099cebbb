"""Shared HTTP plumbing: routes, the per-request context and JSON/error responses."""
from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Callable

from werkzeug.wrappers import Request, Response

from .auth import Authority
from .errors import CIError
from .faults import FaultInjector
from .managed_identity import ManagedIdentityEndpoint
from .requestlog import RequestLog
from .sample import build_sample
from .state import Instance, Store

JSON_TYPE = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Route:
    """A URL rule (werkzeug syntax) bound to a handler ``handler(ctx, **path_args) -> Response``.

    ``family`` picks the error body: ``api`` (ApiErrorResult), ``odata`` (ODataError),
    ``control`` ({"error"}) or ``authority`` (Entra error JSON).
    """

    rule: str
    methods: tuple[str, ...]
    name: str
    handler: Callable[..., Response]
    family: str = "api"


@dataclass
class Services:
    """Everything a handler may touch."""

    store: Store
    authority: Authority
    faults: FaultInjector
    log: RequestLog
    identity: ManagedIdentityEndpoint | None = None

    def reset(self) -> None:
        """Back to the sample instance and its users' roles; also clears faults, the request log, the
        switches and the token grant counters."""
        with self.store.lock:
            self.store.instances.clear()
            self.store.add(build_sample())
            self.store.next_link = False
        self.authority.reset()
        self.faults.clear()
        self.log.reset()


class Context:
    """One request plus the services, with argument helpers that raise 400 ``CIError``."""

    def __init__(self, request: Request, services: Services) -> None:
        self.request = request
        self.services = services
        self.store = services.store

    def instance(self, instance_id: str) -> Instance:
        """The instance or a 404."""
        return self.store.instance(instance_id)

    def arg_bool(self, name: str, default: bool) -> bool:
        """A boolean query argument (``true``/``false``, any case)."""
        raw = self.request.args.get(name)
        if raw is None or raw == "":
            return default
        if raw.lower() not in ("true", "false"):
            raise CIError(400, "invalidParameter", f"'{raw}' is not a valid boolean for '{name}'.")
        return raw.lower() == "true"

    def arg_int(self, name: str, default: int | None) -> int | None:
        """An integer query argument."""
        raw = self.request.args.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise CIError(400, "invalidParameter", f"'{raw}' is not a valid integer for '{name}'.") from None

    def json_body(self, required: bool = True) -> Any:
        """The parsed JSON body (``application/json`` or ``application/json-patch+json``)."""
        data = self.request.get_data()
        if not data.strip():
            if required:
                raise CIError(400, "invalidBody", "A JSON request body is required.")
            return None
        mimetype = self.request.mimetype
        if mimetype and mimetype not in ("application/json", "application/json-patch+json", "text/json"):
            raise CIError(400, "invocationUnsupportedMediaType", f"Unsupported content type '{mimetype}'.")
        try:
            return json.loads(data)
        except ValueError as exc:
            raise CIError(400, "invalidBody", f"The request body is not valid JSON: {exc}.") from None


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response."""
    return Response(json.dumps(body), status=status, content_type=JSON_TYPE, headers=headers)


def api_error_body(status: int, error_code: str, message: str, culprit: str = "user") -> dict[str, Any]:
    """An ``ApiErrorResult``."""
    return {"httpStatusCode": HTTPStatus(status).phrase.replace(" ", "").replace("-", ""),
            "exceptionCulprit": culprit, "errorCode": error_code, "resultSeverity": "error",
            "message": message, "params": {}, "ciResults": []}


def odata_error_body(error_code: str, message: str, target: str | None = None) -> dict[str, Any]:
    """An ``ODataError``."""
    body: dict[str, Any] = {"errorCode": error_code, "message": message,
                            "details": [{"errorCode": error_code, "message": message}]}
    if target:
        body["target"] = target
    return body


def error_response(family: str, error: CIError) -> Response:
    """``error`` rendered for the route family."""
    if family == "odata":
        return json_response(odata_error_body(error.error_code, error.message), error.status)
    return json_response(api_error_body(error.status, error.error_code, error.message, error.culprit), error.status)
