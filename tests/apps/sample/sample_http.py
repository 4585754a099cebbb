"""HTTP functions of the sample app."""
import json
import os
import time

import azure.functions as func

bp = func.Blueprint()


def _json(data: object, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(data), status_code=status, mimetype="application/json")


@bp.route(route="hello", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def hello(req: func.HttpRequest) -> func.HttpResponse:
    """Anonymous greeting; the greeting word comes from a setting."""
    return func.HttpResponse(f"{os.environ['SAMPLE_GREETING']} {req.params.get('name', 'world')}")


@bp.route(route="items/{id:int}", methods=["GET", "POST"])
def item(req: func.HttpRequest) -> func.HttpResponse:
    """Function-level route with an int parameter: echoes what the host passed."""
    return _json({"function": "item", "id": req.route_params.get("id"), "method": req.method,
                  "params": dict(req.params), "body": req.get_body().decode(),
                  "sample_header": req.headers.get("x-sample"), "url": req.url},
                 status=201 if req.method == "POST" else 200)


@bp.route(route="items/special", methods=["GET"])
def special_item(req: func.HttpRequest) -> func.HttpResponse:
    """A literal route that must win over ``items/{id}``."""
    return _json({"function": "special_item"})


@bp.route(route="items/{name}", methods=["GET"])
def named_item(req: func.HttpRequest) -> func.HttpResponse:
    """Unconstrained parameter: tried after the int-constrained route."""
    return _json({"function": "named_item", "name": req.route_params["name"]})


@bp.route(route="files/{name?}", auth_level=func.AuthLevel.ANONYMOUS)
def files(req: func.HttpRequest) -> func.HttpResponse:
    """Optional parameter, all methods."""
    return _json({"route_params": dict(req.route_params), "method": req.method})


@bp.route(route="guids/{id:guid}", auth_level=func.AuthLevel.ANONYMOUS)
def guids(req: func.HttpRequest) -> func.HttpResponse:
    """Guid constraint."""
    return _json({"id": req.route_params["id"]})


@bp.route(route="words/{word:alpha}", auth_level=func.AuthLevel.ANONYMOUS)
def words(req: func.HttpRequest) -> func.HttpResponse:
    """Alpha constraint."""
    return _json({"word": req.route_params["word"]})


@bp.route(auth_level=func.AuthLevel.ANONYMOUS)
def default_route(req: func.HttpRequest) -> func.HttpResponse:
    """No route: served at /api/default_route."""
    return func.HttpResponse("default route")


@bp.route(route="admin-area", auth_level=func.AuthLevel.ADMIN)
def admin_area(req: func.HttpRequest) -> func.HttpResponse:
    """Admin level: master key only."""
    return func.HttpResponse("admin ok")


@bp.route(route="boom", auth_level=func.AuthLevel.ANONYMOUS)
def boom(req: func.HttpRequest) -> func.HttpResponse:
    """Unhandled exception: 500 without details."""
    raise RuntimeError("secret internal detail")


@bp.route(route="slow", auth_level=func.AuthLevel.ANONYMOUS)
def slow(req: func.HttpRequest) -> func.HttpResponse:
    """Sleeps ``s`` seconds (graceful stop test)."""
    time.sleep(float(req.params.get("s", "1")))
    return func.HttpResponse("done")


@bp.route(route="enqueue", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.queue_output(arg_name="out", queue_name="%SAMPLE_OUT_QUEUE%", connection="AzureWebJobsStorage")
def enqueue(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
    """Queue output from an HTTP function; fails after setting it when ?fail=1."""
    out.set(req.get_body().decode())
    if req.params.get("fail"):
        raise RuntimeError("planned failure after setting the output")
    return func.HttpResponse(status_code=202)


@bp.route(route="out-response", auth_level=func.AuthLevel.ANONYMOUS, binding_arg_name="res")
def out_response(req: func.HttpRequest, res: func.Out[func.HttpResponse]) -> None:
    """HTTP response through an Out parameter instead of $return."""
    res.set(func.HttpResponse("via out", status_code=203, headers={"X-Out": "1"}))


@bp.route(route="async-context", auth_level=func.AuthLevel.ANONYMOUS)
async def async_context(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    """async def with a context parameter."""
    return _json({"function_name": context.function_name, "invocation_id": context.invocation_id})
