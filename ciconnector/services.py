"""Process-wide services built once from the settings (the composition root)."""
from __future__ import annotations

from functools import lru_cache

from . import redaction
from .customer_insights import CustomerInsightsClient
from .delivery.deliverer import Deliverer
from .delivery.schedule import RetrySchedule
from .delivery.sender import CallbackSender
from .health import HealthCheck
from .settings import Settings
from .storage.deliveries import DeadLetterStore, DeliveryStore
from .storage.queues import QueueSender
from .storage.subscriptions import SubscriptionStore
from .storage.tables import TableStore
from .storage.watch import WatchStore
from .webhooks.polling import Poller
from .webhooks.subscriptions import SubscriptionService


LEASE_MARGIN_SECONDS = 30.0
"""Poll lease beyond twice the worst CI call (default 2 × (4 × 30 s + 60 s) + 30 s = 390 s)."""


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The app settings, read once per process (which also installs log redaction)."""
    redaction.install()
    return Settings.from_environ()


@lru_cache(maxsize=1)
def ci_client() -> CustomerInsightsClient:
    """The shared CI client (its token cache and connection pool live for the process)."""
    return CustomerInsightsClient(settings().ci)


@lru_cache(maxsize=1)
def health_check() -> HealthCheck:
    """The shared health check (results cached briefly to protect CI from probes)."""
    return HealthCheck(settings(), ci_client())


@lru_cache(maxsize=1)
def tables() -> TableStore:
    return TableStore(settings().require_storage())


@lru_cache(maxsize=1)
def queues() -> QueueSender:
    return QueueSender(settings().require_storage())


@lru_cache(maxsize=1)
def subscription_service() -> SubscriptionService:
    s = settings()
    return SubscriptionService(ci=ci_client(), subscriptions=SubscriptionStore(tables()), watch=WatchStore(tables()),
                               queues=queues(), instance_allowlist=s.instance_ids,
                               allowed_callback_hosts=s.callback_allowed_hosts)


@lru_cache(maxsize=1)
def poller() -> Poller:
    return Poller(ci=ci_client(), subscriptions=SubscriptionStore(tables()), watch=WatchStore(tables()),
                  queues=queues(), lease_seconds=2 * settings().ci.worst_call_seconds + LEASE_MARGIN_SECONDS)


@lru_cache(maxsize=1)
def deliverer() -> Deliverer:
    s = settings()
    return Deliverer(subscriptions=SubscriptionStore(tables()), deliveries=DeliveryStore(tables()),
                     dead_letters=dead_letters(), queues=queues(),
                     sender=CallbackSender(timeout=s.delivery_timeout_seconds,
                                           response_timeout=s.delivery_response_timeout_seconds,
                                           allowed_hosts=s.callback_allowed_hosts,
                                           ca_bundle=s.callback_ca_bundle),
                     schedule=RetrySchedule(s.delivery_retry_schedule),
                     disable_after_not_found=s.disable_after_not_found,
                     send_timeout=s.delivery_timeout_seconds + s.delivery_response_timeout_seconds,
                     watch=WatchStore(tables()))


@lru_cache(maxsize=1)
def dead_letters() -> DeadLetterStore:
    return DeadLetterStore(tables())
