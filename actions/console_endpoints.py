"""HTTP functions of the admin console.

``GET /api/console`` and its script and stylesheet are anonymous: they are static files with no data
and no secret, and a browser cannot send a header when it navigates, so an admin-level page would
need the master key in its URL (``?code=``), where browser history, proxies and request logs keep it.
Everything with data or effect is admin level (the master key; a function key gets 401 from the
host, locally and on Azure): the page sends the key it asked for in ``x-functions-key``. In Entra
mode (``AUTH_MODE=entra``) these need the admin app role instead, like the other admin endpoints
(``actions.responses.for_admins``): the page is given an access token and sends it as
``Authorization: Bearer``; the master key is refused (401).

Admin level: ``GET console/overview`` (the read model as JSON), ``GET console/view`` (the same read
model rendered as HTML), ``POST console/instances/{instanceId}/subscriptions/{subscriptionId}/enable``
and ``POST console/instances/{instanceId}/deadletters/replay`` (replay all). Replaying one dead letter
and sending a test notification use the existing admin endpoints (``triggers/subscription_endpoints.py``).
"""
from urllib.parse import urlsplit

import azure.functions as func

from ciconnector import services
from ciconnector.admin_console import ASSETS, PAGE, SECURITY_HEADERS, ConnectorLink, as_view, read
from ciconnector.errors import NotFound
from ciconnector.operations.answers import Answer, error_answer

from .responses import ADMIN_LEVEL, for_admins, json_response

bp = func.Blueprint()

DEFINITION_PATH = "/connector/apiDefinition.swagger.json"


def _static(name: str, content_type: str) -> func.HttpResponse:
    return func.HttpResponse(read(name), status_code=200, mimetype=content_type, charset="utf-8",
                             headers=SECURITY_HEADERS)


@bp.function_name("ConsolePage")
@bp.route(route="console", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def console_page(req: func.HttpRequest) -> func.HttpResponse:
    return _static(PAGE, "text/html")


@bp.function_name("ConsoleAsset")
@bp.route(route="console/static/{name}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def console_asset(req: func.HttpRequest) -> func.HttpResponse:
    name = req.route_params["name"]
    if name not in ASSETS:
        answer = error_answer(NotFound("NotFound", "No such console file."), operation="console_asset")
        return json_response(answer.body, status=answer.status, headers=SECURITY_HEADERS)
    return _static(name, ASSETS[name])


def _connector_link(req: func.HttpRequest) -> ConnectorLink:
    """Where this app serves its connector definition (through ``CONNECTOR_HOST`` when one is set)."""
    settings = services.app().settings
    if settings.connector_host:
        return ConnectorLink(f"https://{settings.connector_host}{settings.connector_base_path}{DEFINITION_PATH}",
                             settings.connector_host, settings.connector_base_path)
    base = req.url.split("/api/", 1)[0]
    return ConnectorLink(f"{base}/api{DEFINITION_PATH}", urlsplit(req.url).netloc, settings.connector_base_path)


@bp.function_name("ConsoleOverview")
@bp.route(route="console/overview", methods=["GET"], auth_level=ADMIN_LEVEL)
@for_admins
def console_overview(req: func.HttpRequest) -> Answer:
    return Answer(200, services.app().console_reader.overview(_connector_link(req)).to_dict(), SECURITY_HEADERS)


@bp.function_name("ConsoleView")
@bp.route(route="console/view", methods=["GET"], auth_level=ADMIN_LEVEL)
@for_admins
def console_view(req: func.HttpRequest) -> Answer:
    return Answer(200, as_view(services.app().console_reader.overview(_connector_link(req))), SECURITY_HEADERS)


@bp.function_name("ConsoleEnableSubscription")
@bp.route(route="console/instances/{instanceId}/subscriptions/{subscriptionId}/enable", methods=["POST"],
          auth_level=ADMIN_LEVEL)
@for_admins
def console_enable(req: func.HttpRequest) -> Answer:
    services.app().console_commands.enable(req.route_params["instanceId"], req.route_params["subscriptionId"])
    return Answer(200, {"status": "enabled"}, SECURITY_HEADERS)


@bp.function_name("ConsoleReplayAll")
@bp.route(route="console/instances/{instanceId}/deadletters/replay", methods=["POST"],
          auth_level=ADMIN_LEVEL)
@for_admins
def console_replay_all(req: func.HttpRequest) -> Answer:
    return Answer(202, services.app().console_commands.replay_all(req.route_params["instanceId"]), SECURITY_HEADERS)
