"""Subscribe, unsubscribe, list and test webhook subscriptions (the HTTP functions' logic).

Subscribe validates everything before storing anything: the JSON body, the callback URL rule,
the trigger kind and its parameters, the instance allowlist, and — against CI — that the
instance, data source, segment or measure exists (and that a measure is scalar).
"""
from __future__ import annotations

import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping

from ..customer_insights import CustomerInsightsClient, NotFoundError
from ..delivery.message import DeliveryMessage
from ..storage.queues import DELIVERY_QUEUE, QueueSender
from ..storage.subscriptions import Subscription, SubscriptionNotFoundError, SubscriptionStore
from ..storage.watch import WatchStore
from ..redaction import redact_url
from ..request_body import BodyError, read_json
from ..triggers import (CATALOG, SubscriptionValidationError, TriggerKind, check_callback_url,
                        ensure_scalar_measure, validate_subscription)
from ..triggers.callback import CALLBACK_URL_FIELD
from ..triggers.parameters import INSTANCE_ID

MAX_BODY_BYTES = 16 * 1024


@dataclass(frozen=True)
class SubscribeRequest:
    """The parts of a subscribe call the service reads."""

    instance_id: str
    trigger_kind: str
    body: bytes
    content_type: str


class SubscriptionService:
    """The webhook subscription operations."""

    def __init__(self, *, ci: CustomerInsightsClient, subscriptions: SubscriptionStore, watch: WatchStore,
                 queues: QueueSender, instance_allowlist: Iterable[str] = (), allowed_callback_hosts: Iterable[str] = (),
                 resolver: Callable[..., Any] = socket.getaddrinfo,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self._ci = ci
        self._subscriptions = subscriptions
        self._watch = watch
        self._queues = queues
        self._allowlist = frozenset(i.lower() for i in instance_allowlist)
        self._allowed_hosts = tuple(allowed_callback_hosts)
        self._resolver = resolver
        self._clock = clock

    def subscribe(self, request: SubscribeRequest) -> Subscription:
        """Validate and store a subscription; raises ``SubscriptionValidationError`` or a CI error."""
        body = _json_body(request.body, request.content_type)
        callback_url = body.pop(CALLBACK_URL_FIELD, None)
        kind, parameters = validate_subscription(request.trigger_kind, {**body, INSTANCE_ID: request.instance_id})
        check_callback_url(callback_url, allowed_hosts=self._allowed_hosts, resolver=self._resolver)
        instance_id = parameters[INSTANCE_ID]
        self._check_instance(kind, instance_id)
        self._check_resources(kind, instance_id, parameters)
        subscription = Subscription(uuid.uuid4().hex, instance_id, kind.id, parameters, callback_url, self._clock())
        self._watch.watch(instance_id)  # first: a watched instance without subscriptions is harmless
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, instance_id: str, subscription_id: str) -> None:
        """Remove a subscription; unknown ids succeed the same way (nothing is revealed)."""
        if _is_key(instance_id) and _is_key(subscription_id):
            self._subscriptions.delete(instance_id.lower(), subscription_id.lower())

    def list(self, instance_id: str) -> list[dict[str, Any]]:
        """An instance's subscriptions for admins, callback URLs redacted."""
        if not _is_key(instance_id):
            return []
        return [describe(s) for s in self._subscriptions.list_for_instance(instance_id.lower())]

    def send_test(self, instance_id: str, subscription_id: str) -> str:
        """Enqueue a sample notification (``isTest`` true) to one subscription; returns its event id."""
        if not (_is_key(instance_id) and _is_key(subscription_id)):
            raise SubscriptionNotFoundError(subscription_id)
        subscription = self._subscriptions.get(instance_id.lower(), subscription_id.lower())
        kind = CATALOG[subscription.trigger_kind]
        event = kind.sample_event(subscription.instance_id, subscription.parameters, self._clock())
        message = DeliveryMessage(subscription.instance_id, subscription.subscription_id, event.event_id,
                                  event.to_notification())
        self._queues.send(DELIVERY_QUEUE, message.to_json())
        return event.event_id

    def _check_instance(self, kind: TriggerKind, instance_id: str) -> None:
        parameter = kind.parameter(INSTANCE_ID)
        if self._allowlist and instance_id not in self._allowlist:
            raise SubscriptionValidationError("InstanceNotAllowed",
                                              "This backend does not serve that Customer Insights instance.",
                                              INSTANCE_ID)
        try:
            self._ci.get_instance(instance_id)
        except NotFoundError:
            raise parameter.not_found(instance_id) from None

    def _check_resources(self, kind: TriggerKind, instance_id: str, parameters: Mapping[str, Any]) -> None:
        """Every parameter the catalog marks as naming a CI resource must name one that exists."""
        exists = {
            "dataSource": lambda value: any(d.data_source_id == value for d in self._ci.list_data_sources(instance_id)),
            "segment": lambda value: any(s.name == value for s in self._ci.list_segments(instance_id)),
            "measure": lambda value: self._scalar_measure_exists(instance_id, value),
        }
        for name, resource in kind.resource_parameters.items():
            value = parameters.get(name)
            if value and resource in exists and not exists[resource](value):
                raise kind.parameter(name).not_found(value)

    def _scalar_measure_exists(self, instance_id: str, name: str) -> bool:
        """Whether the measure exists; raises ``MeasureNotScalar`` for one with dimensions."""
        try:
            measure = self._ci.get_measure(instance_id, name)
        except NotFoundError:
            return False
        ensure_scalar_measure(measure)
        return True


def describe(subscription: Subscription) -> dict[str, Any]:
    """A subscription as admins see it: no whole callback URL."""
    return {"subscriptionId": subscription.subscription_id, "instanceId": subscription.instance_id,
            "triggerKind": subscription.trigger_kind, "parameters": dict(subscription.parameters),
            "callbackUrl": redact_url(subscription.callback_url), "createdAt": subscription.created_at.isoformat(),
            "enabled": subscription.enabled, "notFoundCount": subscription.not_found_count}


def _is_key(value: str) -> bool:
    """Whether ``value`` can be a Table key we wrote (hex or GUID text)."""
    return 0 < len(value) <= 64 and all(c in "0123456789abcdefABCDEF-" for c in value)


def _json_body(body: bytes, content_type: str) -> dict[str, Any]:
    try:
        data = read_json(body, content_type, max_bytes=MAX_BODY_BYTES)
    except BodyError as exc:
        raise SubscriptionValidationError(exc.code, exc.message, "body", status=exc.status) from None
    if not isinstance(data, dict):
        raise SubscriptionValidationError("InvalidJson", "The body must be a JSON object.", "body")
    return data
