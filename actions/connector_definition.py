"""GET /api/connector/apiDefinition.swagger.json (anonymous): the connector definition with the
host (``CONNECTOR_HOST``, default the request's) and base path (``CONNECTOR_BASE_PATH``) filled in,
ready to import. Anonymous because it holds no secret (the same text is
committed in connector/) and the portal's "import from URL" cannot send a function key."""
import azure.functions as func

from ciconnector import services
from ciconnector.connector import definition_for_url

from .responses import json_response

bp = func.Blueprint()


@bp.function_name("ConnectorDefinition")
@bp.route(route="connector/apiDefinition.swagger.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def connector_definition(req: func.HttpRequest) -> func.HttpResponse:
    try:
        settings = services.settings()
        definition = definition_for_url(req.url, host=settings.connector_host, base_path=settings.connector_base_path)
    except ValueError:
        return json_response({"code": "InvalidHost", "message": "The request's host name is not usable."},
                             status=400)
    return json_response(definition)
