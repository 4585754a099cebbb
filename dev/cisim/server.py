"""The WSGI application: routing plus request log, fault injection and API authentication.

Areas: ``/v1/...`` (CI API, needs bearer token + subscription key; a delegated token also the
user's CI role, ``roles.py``), ``/{tenant}/...`` (authority)
and ``/_control/...`` (control API, never logged or faulted). For the first two, each request is
logged, then may consume a fault rule, then is authenticated (API only) and handled.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Mapping

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from . import api, control, data, managed_identity, roles, users_control
from .auth import entra_error
from .errors import CIError, ControlError
from .faults import FaultRule
from .web import Context, Route, Services, api_error_body, error_response, json_response, odata_error_body

API_PREFIX = "/v1"
CONTROL_PREFIX = "/_control"


def _authority_routes(services: Services) -> list[Route]:
    authority = services.authority

    def bind(method: Callable[..., Response]) -> Callable[..., Response]:
        return lambda ctx, tenant: method(ctx.request, tenant)
    return [
        Route("/<tenant>/v2.0/.well-known/openid-configuration", ("GET",), "openid-configuration",
              bind(authority.openid_configuration), "authority"),
        Route("/<tenant>/discovery/v2.0/keys", ("GET",), "jwks", bind(authority.jwks), "authority"),
        Route("/<tenant>/oauth2/v2.0/token", ("POST",), "token", bind(authority.token), "authority"),
        *_identity_routes(services),
    ]


def _identity_routes(services: Services) -> list[Route]:
    """The managed identity endpoint (``IDENTITY_ENDPOINT``), when the simulator serves one."""
    identity = services.identity
    if identity is None:
        return []
    return [Route(managed_identity.PATH, ("GET",), "managed-identity-token",
                  lambda ctx: identity.token(ctx.request), "authority")]


class SimulatorApp:
    """WSGI callable serving the API, the authority and the control API."""

    def __init__(self, services: Services) -> None:
        self.services = services
        api_routes = api.ROUTES + data.ROUTES + roles.ROUTES
        rules = [Rule(API_PREFIX + r.rule, methods=list(r.methods), endpoint=r) for r in api_routes]
        rules += [Rule(CONTROL_PREFIX + r.rule, methods=list(r.methods), endpoint=r)
                  for r in control.ROUTES + users_control.ROUTES]
        rules += [Rule(r.rule, methods=list(r.methods), endpoint=r) for r in _authority_routes(services)]
        self.url_map = Map(rules, strict_slashes=False, merge_slashes=False)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        """Route, log, inject faults, authenticate and dispatch one request."""
        route, args, allowed = self._match(request)
        path = request.path
        area = "control" if path.startswith(CONTROL_PREFIX + "/") else \
            "api" if path.startswith(API_PREFIX + "/") else "authority"
        if area == "control":
            return self._dispatch(request, route, args, allowed, area)
        self.services.log.record(request.method, path, route.name if route and area == "api" else None,
                                 is_api=area == "api", is_token=bool(route and route.name == "token"))
        fault = self.services.faults.take(request.method, path)
        if fault and fault.delay_seconds:
            time.sleep(fault.delay_seconds)
        if fault and fault.status is not None:
            response = self._fault_response(fault, route, area)
        elif area == "api":
            response = self.services.authority.check_api_request(request) or \
                self._refused_by_role(request, route) or self._dispatch(request, route, args, allowed, area)
        else:
            response = self._dispatch(request, route, args, allowed, area)
        if fault and fault.malformed_json:
            body = response.get_data()
            response.set_data(body[: len(body) // 2] or b"{")
            response.content_type = "application/json; charset=utf-8"
        if fault and fault.retry_after is not None:
            response.headers["Retry-After"] = str(fault.retry_after)
        return response

    def _refused_by_role(self, request: Request, route: Route | None) -> Response | None:
        """The error for a delegated call the user's CI role does not allow (see ``roles.py``)."""
        refused = roles.authorize(self.services, request) if route is not None else None
        return error_response(route.family, refused) if route is not None and refused is not None else None

    def _match(self, request: Request) -> tuple[Route | None, Mapping[str, Any], list[str] | None]:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            route, args = adapter.match()
            return route, args, None
        except MethodNotAllowed as exc:
            return None, {}, list(exc.valid_methods or [])
        except NotFound:
            return None, {}, None

    def _dispatch(self, request: Request, route: Route | None, args: Mapping[str, Any], allowed: list[str] | None,
                  area: str) -> Response:
        if route is None:
            return self._unrouted(request, allowed, area)
        try:
            if area == "authority":
                return route.handler(Context(request, self.services), **args)
            with self.services.store.lock:
                return route.handler(Context(request, self.services), **args)
        except CIError as exc:
            if route.family == "control":
                return json_response({"error": exc.message}, exc.status)
            return error_response(route.family, exc)
        except ControlError as exc:
            return json_response({"error": exc.message}, exc.status)

    def _unrouted(self, request: Request, allowed: list[str] | None, area: str) -> Response:
        if allowed:
            return Response(status=405, headers={"Allow": ", ".join(sorted(allowed))})
        message = f"No resource matches {request.method} {request.path}."
        if area == "api":
            return json_response(api_error_body(404, "resourceNotFound", message), 404)
        if area == "control":
            return json_response({"error": message}, 404)
        return entra_error(404, "invalid_request", 90002, message)

    def _fault_response(self, fault: FaultRule, route: Route | None, area: str) -> Response:
        status = fault.status or 500
        message = f"Injected fault #{fault.id} ({status})."
        if status == 401:
            return Response(status=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if area == "authority":
            error = "temporarily_unavailable" if status >= 500 or status == 429 else "invalid_request"
            return entra_error(status, error, 50196 if status == 429 else 90033, message)
        if route is not None and route.family == "odata" and status != 429:
            return json_response(odata_error_body("InjectedFault", message), status)
        if status in (429, 503) or status < 400:
            return Response(status=status)
        return json_response(api_error_body(status, "injectedFault", message, "system"), status)
