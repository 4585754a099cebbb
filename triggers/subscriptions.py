"""HTTP functions of the webhook triggers: subscribe and unsubscribe (function key, called by Power
Automate), and for admins (master key) list subscriptions, send a test notification, list and
replay dead letters."""
import logging

import azure.functions as func
from azure.core.exceptions import AzureError

from actions.responses import json_response
from ciconnector import services
from ciconnector.actions.errors import from_ci_error
from ciconnector.connector.triggers import SUBSCRIBE_ROUTE, UNSUBSCRIBE_OPERATION, UNSUBSCRIBE_ROUTE
from ciconnector.customer_insights import CustomerInsightsError
from ciconnector.storage.subscriptions import SubscriptionNotFoundError
from ciconnector.triggers import SubscriptionValidationError
from ciconnector.webhooks.subscriptions import SubscribeRequest, describe

bp = func.Blueprint()
logger = logging.getLogger(__name__)

SUBSCRIPTION_ROUTE = UNSUBSCRIBE_ROUTE


def _guarded(handler):
    """Answer validation, CI and storage failures with JSON bodies (nothing half-stored)."""
    def run(req: func.HttpRequest) -> func.HttpResponse:
        try:
            return handler(req)
        except SubscriptionValidationError as exc:
            return json_response(exc.to_dict(), status=exc.status)
        except CustomerInsightsError as exc:
            error = from_ci_error(exc)
            return json_response(error.to_json(), status=error.status, headers=error.headers)
        except AzureError as exc:
            logger.error("storage failure in %s: %s", handler.__name__, type(exc).__name__)
            return json_response({"code": "StorageUnavailable", "message": "State storage is unavailable; retry later."},
                                 status=503, headers={"Retry-After": "10"})
    run.__name__ = handler.__name__
    return run


def _unsubscribe_url(req: func.HttpRequest, instance_id: str, subscription_id: str) -> str:
    """Absolute URL of the subscription on the host the request came to."""
    base = req.url.split("/api/", 1)[0]
    return f"{base}/api/" + UNSUBSCRIBE_ROUTE.format(instanceId=instance_id, subscriptionId=subscription_id)


@bp.function_name("SubscribeTrigger")
@bp.route(route=SUBSCRIBE_ROUTE % "{triggerKind}", methods=["POST"])
@_guarded
def subscribe(req: func.HttpRequest) -> func.HttpResponse:
    subscription = services.subscription_service().subscribe(SubscribeRequest(
        instance_id=req.route_params["instanceId"], trigger_kind=req.route_params["triggerKind"],
        body=req.get_body() or b"", content_type=req.headers.get("Content-Type", "")))
    location = _unsubscribe_url(req, subscription.instance_id, subscription.subscription_id)
    logger.info("subscribed %s to %s on instance %s", subscription.subscription_id, subscription.trigger_kind,
                subscription.instance_id)
    return json_response(describe(subscription), status=201, headers={"Location": location})


@bp.function_name(UNSUBSCRIBE_OPERATION)
@bp.route(route=SUBSCRIPTION_ROUTE, methods=["DELETE"])
@_guarded
def unsubscribe(req: func.HttpRequest) -> func.HttpResponse:
    services.subscription_service().unsubscribe(req.route_params["instanceId"], req.route_params["subscriptionId"])
    return json_response({"status": "unsubscribed"}, status=200)


@bp.function_name("ListTriggerSubscriptions")
@bp.route(route="instances/{instanceId}/subscriptions", methods=["GET"], auth_level=func.AuthLevel.ADMIN)
@_guarded
def list_subscriptions(req: func.HttpRequest) -> func.HttpResponse:
    return json_response({"value": services.subscription_service().list(req.route_params["instanceId"])})


@bp.function_name("TestTriggerSubscription")
@bp.route(route=SUBSCRIPTION_ROUTE + "/test", methods=["POST"], auth_level=func.AuthLevel.ADMIN)
@_guarded
def send_test(req: func.HttpRequest) -> func.HttpResponse:
    try:
        event_id = services.subscription_service().send_test(req.route_params["instanceId"],
                                                            req.route_params["subscriptionId"])
    except SubscriptionNotFoundError:
        return json_response({"code": "SubscriptionNotFound", "message": "No such subscription.",
                              "field": "subscriptionId"}, status=404)
    return json_response({"eventId": event_id, "status": "queued", "isTest": True}, status=202)


@bp.function_name("ListDeadLetters")
@bp.route(route="instances/{instanceId}/deadletters", methods=["GET"], auth_level=func.AuthLevel.ADMIN)
@_guarded
def list_dead_letters(req: func.HttpRequest) -> func.HttpResponse:
    letters = services.dead_letters().list_for_instance(req.route_params["instanceId"].lower())
    return json_response({"value": [letter.to_json() for letter in letters]})


@bp.function_name("ReplayDeadLetter")
@bp.route(route="instances/{instanceId}/deadletters/{deadLetterId}/replay", methods=["POST"],
          auth_level=func.AuthLevel.ADMIN)
@_guarded
def replay_dead_letter(req: func.HttpRequest) -> func.HttpResponse:
    try:
        message = services.deliverer().replay(req.route_params["instanceId"].lower(), req.route_params["deadLetterId"])
    except LookupError:
        return json_response({"code": "DeadLetterNotFound", "message": "No such dead letter, or its subscription "
                              "no longer exists.", "field": "deadLetterId"}, status=404)
    return json_response({"eventId": message.event_id, "status": "queued"}, status=202)
