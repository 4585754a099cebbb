"""GET /api/connector/apiDefinition.swagger.json (anonymous): the connector definition with the
host (``CONNECTOR_HOST``, default the request's) and base path (``CONNECTOR_BASE_PATH``) filled in,
ready to import, with the connection type of the app's ``AUTH_MODE``.
Anonymous because it holds no secret (the same text is
committed in connector/) and the portal's "import from URL" cannot send a function key."""
import azure.functions as func

from ciconnector import services
from ciconnector.connector import definition_for_url
from ciconnector.operations.answers import Answer

from .responses import answered

bp = func.Blueprint()


@bp.function_name("ConnectorDefinition")
@bp.route(route="connector/apiDefinition.swagger.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@answered
def connector_definition(req: func.HttpRequest) -> Answer:
    settings = services.app().settings
    return Answer(200, definition_for_url(req.url, host=settings.connector_host,
                                          base_path=settings.connector_base_path, entra=settings.auth.entra))
