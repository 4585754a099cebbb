"""The HTTP operations of webhook subscriptions: what every kind's subscribe operation shares, and
the unsubscribe operation.

Contract with Power Automate: subscribe is ``POST /api/instances/{instanceId}/triggers/{kindId}/subscriptions``
with the JSON body ``{"callbackUrl": ..., <the kind's other parameters>}`` and answers 201 with an
absolute ``Location``, the unsubscribe URL; unsubscribe is
``DELETE /api/instances/{instanceId}/subscriptions/{subscriptionId}`` and idempotent.
"""
from __future__ import annotations

from typing import Any, Mapping

from ciconnector.operations import Operation, Param
from ciconnector.operations.common import ERROR_RESPONSES, INSTANCE, STORAGE_UNAVAILABLE_RESPONSE

from .callback import CALLBACK_URL

SUBSCRIBE_ROUTE = "instances/{instanceId}/triggers/%s/subscriptions"
"""Route of a kind's subscribe operation, with ``%s`` for the kind id."""
MAX_BODY_BYTES = 16 * 1024
"""Largest subscribe body accepted (413 beyond): a callback URL (2 KiB at most) and a few parameters."""

SUBSCRIBE_RESPONSES: Mapping[str, Mapping[str, Any]] = {
    "201": {"description": "Subscribed; Location holds the URL that deletes the subscription.",
            "headers": {"Location": {"type": "string", "description": "The unsubscribe URL."}}},
    "400": {"description": "Invalid trigger parameters or callback URL; the JSON body names the field."},
    "401": ERROR_RESPONSES["401"],
    "429": ERROR_RESPONSES["429"],
    "502": ERROR_RESPONSES["502"],
    "503": STORAGE_UNAVAILABLE_RESPONSE,
}


def subscription_body(fields: tuple[Param, ...]) -> Param:
    """The subscribe body: the callback URL, then the kind's own fields."""
    return Param("body", "body", "object", "Subscription", "The callback URL and the trigger parameters.",
                 required=True, fields=(CALLBACK_URL, *fields))


SUBSCRIPTION = Param("subscriptionId", "path", "string", "Subscription ID", "The subscription to delete.",
                     required=True)

UNSUBSCRIBE = Operation(
    operation_id="DeleteTriggerSubscription", method="DELETE",
    route="instances/{instanceId}/subscriptions/{subscriptionId}",
    summary="Delete a trigger subscription",
    description="Deletes a trigger subscription; deleting an unknown subscription also succeeds.",
    params=(INSTANCE, SUBSCRIPTION), visibility="internal",
    responses={"200": {"description": "Deleted, or there was no such subscription."},
               "204": {"description": "Deleted, or there was no such subscription."},
               "401": ERROR_RESPONSES["401"], "503": STORAGE_UNAVAILABLE_RESPONSE})
"""The internal, idempotent DELETE the platform calls on the subscribe answer's ``Location``."""
