"""Subscribe, unsubscribe, list and test webhook subscriptions (the HTTP functions' logic).

Subscribe validates everything before storing anything: the trigger kind, the request against the
kind's subscribe operation (the shared validator: JSON body, parameters, callback URL syntax), the
callback host, the instance allowlist, and — against CI — that the instance, data source, segment
or measure exists (and that a measure is scalar). Failures are raised as
:class:`~ciconnector.errors.ConnectorError` (or CI client errors); the HTTP functions answer them.
"""
from __future__ import annotations

import logging
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping, Protocol

from ..customer_insights import DataSource, Measure, NotFoundError, Segment
from ..delivery.message import DeliveryMessage, MessageQueue
from ..errors import InvalidInput
from ..operations import Param, RawRequest, validate
from ..operations.common import instance_allowed
from ..redaction import redact_url
from ..storage.queues import DELIVERY_QUEUE
from ..storage.subscriptions import Owner, Subscription, SubscriptionNotFoundError
from ..timeutil import utc_now
from ..trigger_kinds import CATALOG, UNSUBSCRIBE, TriggerKind, check_callback_url, ensure_scalar_measure, trigger_kind
from ..trigger_kinds.callback import CALLBACK_URL_FIELD
from ..trigger_kinds.observations import Snapshot
from ..trigger_kinds.parameters import INSTANCE_ID
from ..trigger_kinds.rules import ThresholdRule, names_data_source

logger = logging.getLogger(__name__)


class ResourceSource(Protocol):
    """The CI reads that check a subscription's resources (``CustomerInsightsClient``; a fake in tests)."""

    def get_instance(self, instance_id: str) -> dict: ...
    def list_data_sources(self, instance_id: str) -> list[DataSource]: ...
    def list_segments(self, instance_id: str) -> list[Segment]: ...
    def get_measure(self, instance_id: str, measure_name: str) -> Measure: ...


class SubscriptionRecords(Protocol):
    """Stored subscriptions (``SubscriptionStore`` or ``MemorySubscriptionStore``)."""

    def add(self, subscription: Subscription) -> Subscription: ...
    def get(self, instance_id: str, subscription_id: str) -> Subscription: ...
    def delete(self, instance_id: str, subscription_id: str) -> None: ...
    def list_for_instance(self, instance_id: str) -> list[Subscription]: ...


class Watching(Protocol):
    """Tells the poller that an instance's subscriptions changed (``WatchStore``)."""

    def watch(self, instance_id: str) -> None:
        """A subscription was added or re-enabled: the instance is polled, and its next poll reads them."""

    def touch(self, instance_id: str) -> None:
        """A subscription was removed or disabled: the next poll reads them again."""


@dataclass(frozen=True)
class SubscribeRequest:
    """The parts of a subscribe call the service reads."""

    instance_id: str
    trigger_kind: str
    body: bytes
    content_type: str
    owner: Owner | None = None
    """The subscribing user (Entra mode), recorded with the subscription; None in function-key mode."""


class SubscriptionService:
    """The webhook subscription operations."""

    def __init__(self, *, ci: ResourceSource, subscriptions: SubscriptionRecords, watch: Watching,
                 queues: MessageQueue, instance_allowlist: Iterable[str] = (),
                 allowed_callback_hosts: Iterable[str] = (), resolver: Callable[..., Any] = socket.getaddrinfo,
                 clock: Callable[[], datetime] = utc_now):
        self._ci = ci
        self._subscriptions = subscriptions
        self._watch = watch
        self._queues = queues
        self._allowlist = frozenset(i.lower() for i in instance_allowlist)
        self._allowed_hosts = tuple(allowed_callback_hosts)
        self._resolver = resolver
        self._clock = clock

    def subscribe(self, request: SubscribeRequest) -> Subscription:
        """Validate and store a subscription; raises a ``ConnectorError`` or a CI error."""
        kind = trigger_kind(request.trigger_kind)
        args = validate(kind.subscribe, RawRequest(route_params={INSTANCE_ID: request.instance_id},
                                                   body=request.body, content_type=request.content_type))
        callback_url = args[CALLBACK_URL_FIELD]
        check_callback_url(callback_url, allowed_hosts=self._allowed_hosts, resolver=self._resolver)
        parameters = kind.parameters_of(args)
        instance_id = parameters[INSTANCE_ID]
        read = self._check_resources(kind, instance_id, parameters)
        subscription = Subscription(uuid.uuid4().hex, instance_id, kind.id, parameters, callback_url, self._clock(),
                                    owner=request.owner, baseline=_baseline(kind, parameters, read))
        added = self._subscriptions.add(subscription)
        # after the row exists: the new generation makes the next poll read the subscriptions (and
        # re-activates an instance a poll deactivated meanwhile)
        try:
            self._watch.watch(instance_id)
        except Exception:
            self._forget(added)  # an unwatched subscription would be read later and surprise its flow
            raise
        return added

    def _forget(self, subscription: Subscription) -> None:
        try:
            self._subscriptions.delete(subscription.instance_id, subscription.subscription_id)
        except Exception:  # noqa: BLE001 - the original error is what the caller must see
            logger.exception("could not remove subscription %s after its instance could not be watched",
                             subscription.subscription_id)

    def unsubscribe(self, instance_id: str, subscription_id: str, *, only_owner: Owner | None = None) -> None:
        """Remove a subscription; unknown ids succeed the same way (nothing is revealed).

        With ``only_owner`` (Entra mode, a caller without the admin role) only a subscription that
        user owns is removed; anyone else's, or one without an owner, is left alone and the call
        returns exactly as for an unknown id.
        """
        args = validate(UNSUBSCRIBE, RawRequest(route_params={INSTANCE_ID: instance_id,
                                                              "subscriptionId": subscription_id}))
        if not _is_key(args["subscriptionId"]):
            return
        instance_id, subscription_id = args[INSTANCE_ID], args["subscriptionId"].lower()
        if only_owner is not None:
            try:
                subscription = self._subscriptions.get(instance_id, subscription_id)
            except SubscriptionNotFoundError:
                return
            if subscription.owner is None or subscription.owner.key != only_owner.key:
                logger.warning("unsubscribe of %s by %s ignored: not its owner", subscription_id, only_owner.key)
                return
        self._subscriptions.delete(instance_id, subscription_id)
        self._watch.touch(instance_id)  # the next poll reads the subscriptions again

    def list(self, instance_id: str) -> list[dict[str, Any]]:
        """An instance's subscriptions for admins, callback URLs redacted."""
        if not _is_key(instance_id):
            return []
        return [describe(s) for s in self._subscriptions.list_for_instance(instance_id.lower())]

    def send_test(self, instance_id: str, subscription_id: str) -> str:
        """Enqueue a sample notification (``isTest`` true) to one subscription; returns its event id."""
        if not (_is_key(instance_id) and _is_key(subscription_id)):
            raise SubscriptionNotFoundError()
        subscription = self._subscriptions.get(instance_id.lower(), subscription_id.lower())
        kind = CATALOG[subscription.trigger_kind]
        event = kind.sample_event(subscription.instance_id, subscription.parameters, self._clock())
        message = DeliveryMessage(subscription.instance_id, subscription.subscription_id, event.event_id,
                                  event.to_notification())
        self._queues.send(DELIVERY_QUEUE, message.to_dict())
        return event.event_id

    def _check_resources(self, kind: TriggerKind, instance_id: str, parameters: Mapping[str, Any]) -> Snapshot:
        """Every parameter declared as naming a CI resource must name one that exists; the instance
        must also pass the allowlist (checked first: it costs no CI call). Returns the segments and
        measures read on the way (the threshold baseline comes from them)."""
        if not instance_allowed(instance_id, self._allowlist):
            raise InvalidInput("InstanceNotAllowed", "This backend does not serve that Customer Insights instance.",
                               field=INSTANCE_ID)
        read: dict[str, Any] = {}

        def segment_exists(value: str) -> bool:
            segments = read["segments"] = self._ci.list_segments(instance_id)
            return any(s.name == value for s in segments)

        def measure_exists(value: str) -> bool:
            measure = self._scalar_measure(instance_id, value)
            read["measures"] = [measure] if measure else None
            return measure is not None

        exists = {
            "instance": self._instance_exists,
            "dataSource": lambda value: any(names_data_source(value, d)
                                            for d in self._ci.list_data_sources(instance_id)),
            "segment": segment_exists,
            "measure": measure_exists,
        }
        for param in kind.parameters:
            value = parameters.get(param.name)
            if value and param.resource is not None and not exists[param.resource](value):
                raise _resource_not_found(param, value)
        return Snapshot(instance_id, self._clock(), segments=read.get("segments"), measures=read.get("measures"))

    def _instance_exists(self, instance_id: str) -> bool:
        try:
            self._ci.get_instance(instance_id)
        except NotFoundError:
            return False
        return True

    def _scalar_measure(self, instance_id: str, name: str) -> Measure | None:
        """The measure, None when it does not exist; raises ``MeasureNotScalar`` for one with dimensions."""
        try:
            measure = self._ci.get_measure(instance_id, name)
        except NotFoundError:
            return None
        ensure_scalar_measure(measure)
        return measure


def _baseline(kind: TriggerKind, parameters: Mapping[str, Any], read: Snapshot) -> int | float | None:
    """A threshold subscription's starting value, as the poll would observe it in what subscribe read
    (None when not evaluated or not a threshold kind: the first poll then sets the baseline)."""
    if not isinstance(kind.rule, ThresholdRule):
        return None
    observation = kind.rule.observe(read, parameters[kind.rule.parameter])
    return observation.value if observation else None


def describe(subscription: Subscription) -> dict[str, Any]:
    """A subscription as admins see it: no whole callback URL."""
    return {"subscriptionId": subscription.subscription_id, "instanceId": subscription.instance_id,
            "triggerKind": subscription.trigger_kind, "parameters": dict(subscription.parameters),
            "callbackUrl": redact_url(subscription.callback_url), "createdAt": subscription.created_at.isoformat(),
            "enabled": subscription.enabled, "notFoundCount": subscription.not_found_count,
            "owner": subscription.owner.to_dict() if subscription.owner else None}


def _is_key(value: str) -> bool:
    """Whether ``value`` can be a Table key we wrote (hex or GUID text)."""
    return 0 < len(value) <= 64 and all(c in "0123456789abcdefABCDEF-" for c in value)


def _resource_not_found(param: Param, value: str) -> InvalidInput:
    """A 400 (not 404: the subscribe call itself exists) for a value naming no CI resource."""
    return InvalidInput("ResourceNotFound", f"No {param.summary.lower()} '{value}' was found in Customer Insights.",
                        field=param.name)

