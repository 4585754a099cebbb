"""GET /api/health (anonymous): storage and CI reachability, no secrets."""
import azure.functions as func

from ciconnector import services

from .responses import json_response

bp = func.Blueprint()


@bp.function_name("health")
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    report = services.health_check().report()
    return json_response(report.to_json(), status=200 if report.healthy else 503)
