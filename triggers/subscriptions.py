"""HTTP functions of the webhook triggers: each kind's subscribe operation and unsubscribe (function
key, called by Power Automate), and for admins (master key) list subscriptions, send a test
notification, list and replay dead letters.

Subscribe functions are registered from the declarations, one per kind (function name = the kind's
operationId); a catch-all route answers a kind that does not exist with ``UnknownTriggerKind``.
"""
import logging

import azure.functions as func

from actions.responses import Handler, answered, register
from ciconnector import services
from ciconnector.errors import NotFound
from ciconnector.operations.answers import Answer
from ciconnector.triggers import CATALOG, UNSUBSCRIBE
from ciconnector.triggers.subscribe import SUBSCRIBE_ROUTE
from ciconnector.webhooks.subscriptions import SubscribeRequest, describe

bp = func.Blueprint()
logger = logging.getLogger(__name__)


def _unsubscribe_url(req: func.HttpRequest, instance_id: str, subscription_id: str) -> str:
    """Absolute URL of the subscription on the host the request came to."""
    base = req.url.split("/api/", 1)[0]
    return f"{base}/api/" + UNSUBSCRIBE.route.format(instanceId=instance_id, subscriptionId=subscription_id)


def _subscribe(kind_id: str | None) -> Handler:
    """Subscribe to ``kind_id`` (None: the kind named by the route, for the catch-all)."""
    def handle(req: func.HttpRequest) -> Answer:
        subscription = services.subscription_service().subscribe(SubscribeRequest(
            instance_id=req.route_params["instanceId"], trigger_kind=kind_id or req.route_params["triggerKind"],
            body=req.get_body() or b"", content_type=req.headers.get("Content-Type", "")))
        logger.info("subscribed %s to %s on instance %s", subscription.subscription_id, subscription.trigger_kind,
                    subscription.instance_id)
        location = _unsubscribe_url(req, subscription.instance_id, subscription.subscription_id)
        return Answer(201, describe(subscription), {"Location": location})
    return handle


def _unsubscribe(req: func.HttpRequest) -> Answer:
    services.subscription_service().unsubscribe(req.route_params["instanceId"], req.route_params["subscriptionId"])
    return Answer(200, {"status": "unsubscribed"})


for _kind in CATALOG.values():
    register(bp, _kind.subscribe, _subscribe(_kind.id))
register(bp, UNSUBSCRIBE, _unsubscribe)


@bp.function_name("SubscribeTrigger")
@bp.route(route=SUBSCRIBE_ROUTE % "{triggerKind}", methods=["POST"])
@answered
def subscribe_unknown_kind(req: func.HttpRequest) -> Answer:
    """Literal routes (the declared kinds) take precedence; this one only sees unknown kinds."""
    return _subscribe(None)(req)


@bp.function_name("ListTriggerSubscriptions")
@bp.route(route="instances/{instanceId}/subscriptions", methods=["GET"], auth_level=func.AuthLevel.ADMIN)
@answered
def list_subscriptions(req: func.HttpRequest) -> Answer:
    return Answer(200, {"value": services.subscription_service().list(req.route_params["instanceId"])})


@bp.function_name("TestTriggerSubscription")
@bp.route(route=UNSUBSCRIBE.route + "/test", methods=["POST"], auth_level=func.AuthLevel.ADMIN)
@answered
def send_test(req: func.HttpRequest) -> Answer:
    event_id = services.subscription_service().send_test(req.route_params["instanceId"],
                                                        req.route_params["subscriptionId"])
    return Answer(202, {"eventId": event_id, "status": "queued", "isTest": True})


@bp.function_name("ListDeadLetters")
@bp.route(route="instances/{instanceId}/deadletters", methods=["GET"], auth_level=func.AuthLevel.ADMIN)
@answered
def list_dead_letters(req: func.HttpRequest) -> Answer:
    letters = services.dead_letters().list_for_instance(req.route_params["instanceId"].lower())
    return Answer(200, {"value": [letter.to_json() for letter in letters]})


@bp.function_name("ReplayDeadLetter")
@bp.route(route="instances/{instanceId}/deadletters/{deadLetterId}/replay", methods=["POST"],
          auth_level=func.AuthLevel.ADMIN)
@answered
def replay_dead_letter(req: func.HttpRequest) -> Answer:
    try:
        message = services.deliverer().replay(req.route_params["instanceId"].lower(),
                                              req.route_params["deadLetterId"])
    except LookupError:
        raise NotFound("DeadLetterNotFound", "No such dead letter, or its subscription no longer exists.",
                       field="deadLetterId") from None
    return Answer(202, {"eventId": message.event_id, "status": "queued"})
