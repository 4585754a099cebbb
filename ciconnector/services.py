"""The composition root: every service of the app built from one :class:`Settings` value.

The function app keeps one cached :class:`Services` (:func:`app`); tests and ``bench/`` construct
their own, with in-memory stores (:meth:`Stores.memory`), a fake CI client, a scripted callback
sender or a fixed clock where they need one, instead of re-wiring services by hand.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, lru_cache
from typing import Any, Callable

from . import redaction
from .admin_console import ConsoleCommands, ConsoleReader
from .auth import Principal, TokenValidator
from .customer_insights import CustomerInsightsClient
from .customer_insights.on_behalf_of import DelegatedClients
from .delivery.deliverer import Callbacks, Deliverer
from .delivery.schedule import RetrySchedule
from .delivery.sender import CallbackSender
from .health import HealthCheck
from .settings import Settings
from .storage.activity import ActivityStore
from .storage.connection import StorageConnection
from .storage.deliveries import DeadLetterStore, DeliveryStore
from .storage.memory import (
    MemoryDeadLetterStore,
    MemoryDeliveryStore,
    MemoryQueues,
    MemorySubscriptionStore,
    MemoryWatchStore,
)
from .storage.queues import QueueSender
from .storage.subscriptions import SubscriptionStore
from .storage.tables import TableStore
from .storage.watch import WatchStore
from .timeutil import utc_now
from .webhooks.polling import Poller
from .webhooks.subscribing import SubscriptionService

LEASE_INTERVALS = 1.5
"""A slow poll's lease, in poll intervals (90 s by default): a crashed poller delays its instance by at
most that after its last renewal, about two intervals in all."""


@dataclass(frozen=True)
class Stores:
    """The state the services share: Table and Queue Storage, or all in memory.

    ``activity`` (what the admin console shows) is kept only in Table Storage; in memory nothing
    is recorded.
    """

    subscriptions: SubscriptionStore | MemorySubscriptionStore
    watch: WatchStore | MemoryWatchStore
    deliveries: DeliveryStore | MemoryDeliveryStore
    dead_letters: DeadLetterStore | MemoryDeadLetterStore
    queues: QueueSender | MemoryQueues
    activity: ActivityStore | None = None

    @classmethod
    def tables(cls, connection: StorageConnection, **client_options: Any) -> "Stores":
        """Stores on one storage account; ``client_options`` go to the SDK clients (``raw_response_hook``)."""
        tables = TableStore(connection, **client_options)
        return cls(SubscriptionStore(tables), WatchStore(tables), DeliveryStore(tables), DeadLetterStore(tables),
                   QueueSender(connection, **client_options), ActivityStore(tables))

    @classmethod
    def memory(cls) -> "Stores":
        """Fresh in-memory stores (functional tests, the bench's storage-free figures)."""
        return cls(MemorySubscriptionStore(), MemoryWatchStore(), MemoryDeliveryStore(), MemoryDeadLetterStore(),
                   MemoryQueues())


class Services:
    """Every service, built on first use from ``settings`` and the optional overrides.

    Args:
        settings: the app settings.
        stores: default: Table and Queue Storage of ``settings.require_storage()``.
        ci: the CI client; default: a :class:`CustomerInsightsClient` for ``settings.ci``.
        sender: what POSTs notifications; default: a :class:`CallbackSender` from the settings.
        clock: the time of polls and dead letters.
    """

    def __init__(self, settings: Settings, *, stores: Stores | None = None, ci: CustomerInsightsClient | None = None,
                 sender: Callbacks | None = None, clock: Callable[[], datetime] = utc_now):
        self.settings = settings
        self._stores = stores
        self._ci = ci
        self._sender = sender
        self._clock = clock

    @cached_property
    def stores(self) -> Stores:
        return self._stores or Stores.tables(self.settings.require_storage())

    @cached_property
    def ci(self) -> CustomerInsightsClient:
        """The shared CI client (its token cache and connection pool live for the process)."""
        return self._ci or CustomerInsightsClient(self.settings.ci)

    @cached_property
    def token_validator(self) -> TokenValidator:
        """Checks callers' access tokens in Entra mode (its tenants' signing keys cached for the process)."""
        return TokenValidator(self.settings.auth)

    @cached_property
    def delegated_ci(self) -> DelegatedClients:
        """CI clients acting for signed-in users (Entra mode); their on-behalf-of tokens cached per user."""
        return DelegatedClients(self.settings.ci)

    def ci_for(self, principal: Principal | None) -> CustomerInsightsClient:
        """The CI client for a request: the app's own in function-key mode, else one acting for the user."""
        if principal is None:
            return self.ci
        return self.delegated_ci.for_user(principal.key, principal.token)

    @cached_property
    def health_check(self) -> HealthCheck:
        """The shared health check (results cached briefly to protect CI from probes)."""
        return HealthCheck(self.settings, self.ci)

    @cached_property
    def subscription_service(self) -> SubscriptionService:
        return self._subscription_service(self.ci)

    def subscription_service_for(self, principal: Principal | None) -> SubscriptionService:
        """The subscription service checking instances and watched resources with the caller's CI
        rights: the shared one in function-key mode, else one whose CI client acts for the user."""
        if principal is None:
            return self.subscription_service
        return self._subscription_service(self.ci_for(principal))

    def _subscription_service(self, ci: CustomerInsightsClient) -> SubscriptionService:
        s, stores = self.settings, self.stores
        return SubscriptionService(ci=ci, subscriptions=stores.subscriptions, watch=stores.watch,
                                   queues=stores.queues, instance_allowlist=s.instance_ids,
                                   allowed_callback_hosts=s.callback_allowed_hosts, clock=self._clock)

    @cached_property
    def poller(self) -> Poller:
        stores = self.stores
        return Poller(ci=self.ci, subscriptions=stores.subscriptions, watch=stores.watch, queues=stores.queues,
                      lease_seconds=LEASE_INTERVALS * self.settings.poll_interval_seconds, clock=self._clock)

    @cached_property
    def deliverer(self) -> Deliverer:
        s, stores = self.settings, self.stores
        sender = self._sender or CallbackSender(timeout=s.delivery_timeout_seconds,
                                                response_timeout=s.delivery_response_timeout_seconds,
                                                allowed_hosts=s.callback_allowed_hosts,
                                                ca_bundle=s.callback_ca_bundle)
        return Deliverer(subscriptions=stores.subscriptions, deliveries=stores.deliveries,
                         dead_letters=stores.dead_letters, queues=stores.queues, sender=sender,
                         schedule=RetrySchedule(s.delivery_retry_schedule),
                         disable_after_not_found=s.disable_after_not_found,
                         watch=stores.watch, clock=self._clock)

    @cached_property
    def console_reader(self) -> ConsoleReader:
        s, stores = self.settings, self.stores
        return ConsoleReader(subscriptions=stores.subscriptions, watch=stores.watch, dead_letters=stores.dead_letters,
                             activity=stores.activity, instance_allowlist=s.instance_ids,
                             disable_after_not_found=s.disable_after_not_found)

    @cached_property
    def console_commands(self) -> ConsoleCommands:
        stores = self.stores
        return ConsoleCommands(subscriptions=stores.subscriptions, watch=stores.watch,
                               dead_letters=stores.dead_letters, deliverer=self.deliverer)


@lru_cache(maxsize=1)
def app() -> Services:
    """The function app's services, built once per process from the environment (which also
    installs log redaction)."""
    redaction.install()
    return Services(Settings.from_environ())
