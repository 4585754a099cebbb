"""HTTP functions of the webhook triggers: each kind's subscribe operation and unsubscribe (function
key, called by Power Automate), and for admins (master key) list subscriptions, send a test
notification, list and replay dead letters. In Entra mode (``AUTH_MODE=entra``) the user's access
token replaces the function key, subscribing checks the instance and watched resource on the user's
behalf and records the user as the subscription's owner, unsubscribe deletes only the caller's own
subscriptions (admins: any), and the admin endpoints need the admin app role instead of the master key.

Subscribe functions are registered from the declarations, one per kind (function name = the kind's
operationId); a catch-all route answers a kind that does not exist with ``UnknownTriggerKind``.
"""
import logging

import azure.functions as func

from actions.responses import ADMIN_LEVEL, Handler, for_admins, for_users, register
from ciconnector import auth, services
from ciconnector.connector.swagger import public_base_url
from ciconnector.operations.answers import Answer
from ciconnector.storage.subscriptions import Owner
from ciconnector.trigger_kinds import CATALOG, UNSUBSCRIBE
from ciconnector.trigger_kinds.subscribe import SUBSCRIBE_ROUTE
from ciconnector.webhooks.subscribing import SubscribeRequest, describe

bp = func.Blueprint()
logger = logging.getLogger(__name__)


def _unsubscribe_url(req: func.HttpRequest, instance_id: str, subscription_id: str) -> str:
    """Absolute URL of the subscription at the address the served connector definition names
    (``CONNECTOR_HOST`` / ``CONNECTOR_BASE_PATH``), so Power Automate deletes it through the same gateway."""
    settings = services.app().settings
    base = public_base_url(req.url, host=settings.connector_host, base_path=settings.connector_base_path)
    return f"{base.rstrip('/')}/" + UNSUBSCRIBE.route.format(instanceId=instance_id, subscriptionId=subscription_id)


def _owner(principal: auth.Principal) -> Owner:
    """The signed-in user as a subscription's owner."""
    return Owner(principal.tenant_id, principal.object_id, principal.name)


def _subscribe(kind_id: str | None) -> Handler:
    """Subscribe to ``kind_id`` (None: the kind named by the route, for the catch-all)."""
    def handle(req: func.HttpRequest) -> Answer:
        principal = auth.current()
        owner = _owner(principal) if principal else None
        subscription = services.app().subscription_service_for(principal).subscribe(SubscribeRequest(
            instance_id=req.route_params["instanceId"], trigger_kind=kind_id or req.route_params["triggerKind"],
            body=req.get_body() or b"", content_type=req.headers.get("Content-Type", ""), owner=owner))
        logger.info("subscribed %s to %s on instance %s", subscription.subscription_id, subscription.trigger_kind,
                    subscription.instance_id)
        location = _unsubscribe_url(req, subscription.instance_id, subscription.subscription_id)
        return Answer(201, describe(subscription), {"Location": location})
    return handle


def _unsubscribe(req: func.HttpRequest) -> Answer:
    """Function-key mode: any key holder; Entra mode: the owner, or a holder of the admin app role.
    Anyone else gets the answer of an unknown subscription (and nothing is deleted)."""
    app, principal = services.app(), auth.current()
    only_owner = _owner(principal) if principal and not auth.is_admin(principal, app.settings.auth) else None
    app.subscription_service.unsubscribe(req.route_params["instanceId"], req.route_params["subscriptionId"],
                                         only_owner=only_owner)
    return Answer(200, {"status": "unsubscribed"})


for _kind in CATALOG.values():
    register(bp, _kind.subscribe, _subscribe(_kind.id))
register(bp, UNSUBSCRIBE, _unsubscribe)


@bp.function_name("SubscribeTrigger")
@bp.route(route=SUBSCRIBE_ROUTE % "{triggerKind}", methods=["POST"])
@for_users
def subscribe_unknown_kind(req: func.HttpRequest) -> Answer:
    """Literal routes (the declared kinds) take precedence; this one only sees unknown kinds."""
    return _subscribe(None)(req)


@bp.function_name("ListTriggerSubscriptions")
@bp.route(route="instances/{instanceId}/subscriptions", methods=["GET"], auth_level=ADMIN_LEVEL)
@for_admins
def list_subscriptions(req: func.HttpRequest) -> Answer:
    return Answer(200, {"value": services.app().subscription_service.list(req.route_params["instanceId"])})


@bp.function_name("TestTriggerSubscription")
@bp.route(route=UNSUBSCRIBE.route + "/test", methods=["POST"], auth_level=ADMIN_LEVEL)
@for_admins
def send_test(req: func.HttpRequest) -> Answer:
    event_id = services.app().subscription_service.send_test(req.route_params["instanceId"],
                                                             req.route_params["subscriptionId"])
    return Answer(202, {"eventId": event_id, "status": "queued", "isTest": True})


@bp.function_name("ListDeadLetters")
@bp.route(route="instances/{instanceId}/deadletters", methods=["GET"], auth_level=ADMIN_LEVEL)
@for_admins
def list_dead_letters(req: func.HttpRequest) -> Answer:
    letters = services.app().stores.dead_letters.list_for_instance(req.route_params["instanceId"].lower())
    return Answer(200, {"value": [letter.to_dict() for letter in letters]})


@bp.function_name("ReplayDeadLetter")
@bp.route(route="instances/{instanceId}/deadletters/{deadLetterId}/replay", methods=["POST"],
          auth_level=ADMIN_LEVEL)
@for_admins
def replay_dead_letter(req: func.HttpRequest) -> Answer:
    message = services.app().deliverer.replay(req.route_params["instanceId"].lower(), req.route_params["deadLetterId"])
    return Answer(202, {"eventId": message.event_id, "status": "queued"})
