"""HTTP front end: function routes under the route prefix, key checks, and the admin API."""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from typing import Any, Callable, Iterable

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import ClosingIterator

from .bindings import http_input, http_result
from .errors import HostError
from .functions import HTTP_TRIGGER, FunctionSpec
from .hostconfig import HostConfig
from .invocation import InvocationResult, Invoker
from .keys import AuthLevel, Keys, presented_key
from .routing import Route, Router, RouteTemplate

log = logging.getLogger("funchost.http")
WAIT_HEADER = "x-funchost-wait"
_ADMIN_INVOKE = re.compile(r"^/admin/functions/([^/]+)/?$", re.IGNORECASE)
_QUERY = re.compile(r"\?\S*")

AdminRunner = Callable[[FunctionSpec, str], InvocationResult]
Background = Callable[[Callable[[], Any]], None]


def build_router(specs: Iterable[FunctionSpec], config: HostConfig) -> Router[FunctionSpec]:
    """Routes of the HTTP functions; a route of None means the function name."""
    routes = []
    for spec in specs:
        if spec.trigger_type != HTTP_TRIGGER:
            continue
        template = RouteTemplate(str(spec.trigger.data.get("route") or spec.name))
        if not config.route_prefix and template.template.lower().split("/")[0] == "admin":
            raise HostError(f"function '{spec.name}': the route conflicts with the built-in admin routes")
        methods = spec.trigger.data.get("methods")
        routes.append(Route(template, frozenset(str(m).upper() for m in methods) if methods else None, spec))
    return Router(routes)


def _empty(status: int) -> Response:
    return Response(b"", status=status)


class FunctionsApp:
    """The WSGI application of the host."""

    def __init__(self, specs: list[FunctionSpec], config: HostConfig, keys: Keys, invoker: Invoker,
                 run_admin: AdminRunner, background: Background) -> None:
        self.specs = {spec.name.lower(): spec for spec in specs}
        self.router = build_router(specs, config)
        self.prefix = f"/{config.route_prefix}" if config.route_prefix else ""
        self.keys = keys
        self.invoker = invoker
        self.run_admin = run_admin
        self.background = background
        self.started = time.monotonic()
        self.stopping = False
        self._inflight = 0
        self._idle = threading.Condition()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self._idle:
            self._inflight += 1
        try:
            request = Request(environ)
            try:
                response = _empty(503) if self.stopping else self.dispatch(request)
            except Exception:  # never leak a stack trace to the client
                log.exception("Unhandled error for %s %s", request.method, request.path)
                response = _empty(500)
            # the request counts as in flight until the server has written the whole body
            return ClosingIterator(response(environ, start_response), self._finished)
        except BaseException:
            self._finished()
            raise

    def _finished(self) -> None:
        with self._idle:
            self._inflight -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is being handled; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._inflight == 0, timeout)

    def level(self, request: Request) -> AuthLevel:
        """Authorization level earned by the request's key."""
        return self.keys.level_of(presented_key(request.headers, request.args))

    def dispatch(self, request: Request) -> Response:
        """Route a request to the admin API or a function."""
        path = request.path
        if path.lower().startswith("/admin/"):
            return self.admin(request)
        if path == "/":
            return Response("Azure Functions (local host) is running.", mimetype="text/plain")
        if self.prefix and not (path.lower() == self.prefix or path.lower().startswith(self.prefix + "/")):
            return _empty(404)
        return self.function(request, path[len(self.prefix):])

    def function(self, request: Request, subpath: str) -> Response:
        """Invoke the HTTP function matching the path and method."""
        found = self.router.match(subpath.rstrip("/") or "/", request.method)
        if found is None:
            return _empty(404)
        spec, route_params = found
        level = self.level(request)
        if spec.disabled and level < AuthLevel.ADMIN:
            return _empty(404)
        if level < AuthLevel.parse(spec.trigger.data.get("authLevel")):
            return _empty(401)
        started = time.perf_counter()
        log.info("Executing HTTP request: %s %s", request.method, request.path)
        result = self.invoker.invoke(spec, http_input(request, route_params),
                                     "This function was programmatically called via the host APIs.")
        response = self.to_response(spec, result)
        log.info("Executed HTTP request: %s %s -> %d (%dms)", request.method, request.path,
                 response.status_code, (time.perf_counter() - started) * 1000)
        return response

    @staticmethod
    def to_response(spec: FunctionSpec, result: InvocationResult) -> Response:
        """The HTTP response for an invocation: its HTTP output, or an empty 500 on failure."""
        if not result.succeeded:
            return _empty(500)
        http_output = next(b for b in spec.outputs if b.type == "http")
        try:
            value = http_result(result.outputs.get(http_output.name))
        except TypeError:
            log.exception("Function '%s' returned an invalid HTTP response", spec.name)
            return _empty(500)
        response = Response(value.body, status=value.status)
        response.headers.clear()
        for name, header in value.headers:
            response.headers.add(name, header)
        return response

    def admin(self, request: Request) -> Response:
        """``/admin/host/ping`` (anonymous), ``/admin/host/status`` and ``POST /admin/functions/{name}``."""
        path = request.path.lower().rstrip("/")
        if path == "/admin/host/ping":
            return _empty(200)
        if self.level(request) < AuthLevel.ADMIN:
            return _empty(401)
        if path == "/admin/host/status" and request.method == "GET":
            return Response(json.dumps({"state": "Running", "version": "funchost",
                                        "processUptime": int((time.monotonic() - self.started) * 1000)}),
                            mimetype="application/json")
        match = _ADMIN_INVOKE.match(request.path)
        if match is None or request.method != "POST":
            return _empty(404)
        try:
            body = json.loads(request.get_data() or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _empty(400)
        spec = self.specs.get(match.group(1).lower())
        if spec is None:
            return _empty(404)
        if spec.trigger_type == HTTP_TRIGGER:
            return Response("HTTP-triggered functions are called through their route.", status=400)
        text = body.get("input")
        text = "" if text is None else text if isinstance(text, str) else json.dumps(text)
        if request.headers.get(WAIT_HEADER, "").lower() in ("1", "true"):
            result = self.run_admin(spec, text)
            return Response(json.dumps({"id": result.invocation_id,
                                        "status": "Succeeded" if result.succeeded else "Failed",
                                        "error": None if result.error is None else repr(result.error)}),
                            status=202, mimetype="application/json")
        self.background(lambda: self.run_admin(spec, text))
        return _empty(202)


class _QuietHandler(WSGIRequestHandler):
    """Request handler that never logs query strings (they can carry ``code=`` or ``sig=``)."""

    def log_request(self, *args: Any) -> None:
        """Requests are logged by the app with their path only."""

    def log(self, type: str, message: str, *args: Any) -> None:
        """Server messages, with any query string removed."""
        text = _QUERY.sub("", message % args if args else message)
        getattr(log, "error" if type == "error" else "info")("%s", text)


class HttpServer:
    """A threaded werkzeug server on 127.0.0.1 running ``FunctionsApp``."""

    def __init__(self, app: FunctionsApp, port: int) -> None:
        self.app = app
        try:
            self._server: BaseWSGIServer = make_server("127.0.0.1", port, app, threaded=True,
                                                       request_handler=_QuietHandler)
        except OSError as exc:
            raise HostError(f"cannot listen on 127.0.0.1:{port}: {exc}") from exc
        self._thread = threading.Thread(target=self._server.serve_forever, name="funchost-http", daemon=True)

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._server.server_address[1])

    def start(self) -> None:
        """Start serving in a background thread."""
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Stop accepting, answer late requests 503, and wait for in-flight requests."""
        self.app.stopping = True
        self._server.shutdown()
        self._server.socket.close()  # refuse new connections while in-flight requests finish
        if not self.app.wait_idle(timeout):
            log.warning("HTTP requests still running after %.0f s", timeout)
        self._server.server_close()
