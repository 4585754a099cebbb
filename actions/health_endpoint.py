"""GET /api/health (anonymous): storage and CI reachability, no secrets."""
import azure.functions as func

from ciconnector import services
from ciconnector.operations.answers import Answer

from .responses import answered

bp = func.Blueprint()


@bp.function_name("health")
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@answered
def health(req: func.HttpRequest) -> Answer:
    report = services.app().health_check.report()
    return Answer(200 if report.healthy else 503, report.to_dict())
