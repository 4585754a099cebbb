"""Webhook subscriptions, partitioned by CI instance."""
from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Callable, Mapping

from azure.core import MatchConditions
from azure.data.tables import UpdateMode

from ..errors import ConcurrentChange, RecordNotFound
from .azure_errors import mapped
from .tables import SUBSCRIPTIONS, TableStore

UPDATE_ATTEMPTS = 5
"""Read-modify-write rounds :meth:`SubscriptionUpdates.update` tries under contention."""


class SubscriptionNotFoundError(RecordNotFound):
    """No subscription with that id exists for that instance."""

    def __init__(self) -> None:
        super().__init__("SubscriptionNotFound", "No such subscription.", field="subscriptionId")


@dataclass(frozen=True)
class Owner:
    """Who created a subscription (Entra mode): the user's tenant and object id, and their display name
    at the time (for admins to read; decisions compare only :attr:`key`)."""

    tenant_id: str
    object_id: str
    name: str = ""

    @property
    def key(self) -> str:
        """``<tid>/<oid>``, as :attr:`ciconnector.auth.Principal.key`."""
        return f"{self.tenant_id}/{self.object_id}"

    def to_dict(self) -> dict[str, str]:
        return {"tenantId": self.tenant_id, "objectId": self.object_id, "name": self.name}


@dataclass(frozen=True)
class Subscription:
    """One flow's webhook subscription to one trigger kind on one CI instance.

    ``callback_url`` is a bearer secret (it carries ``sig=``): it is never logged or shown whole.
    ``owner`` is the user who subscribed in Entra mode; None in function-key mode (and for rows
    written before owners were recorded: only admins may delete those in Entra mode).

    ``baseline`` is a threshold subscription's value observed at subscribe (None when unknown, and
    for other kinds): its first poll compares against it, so a crossing between subscribe and that
    poll fires. It lives on the subscription row, written once with it, rather than in the
    instance's watch row: subscribe then writes nothing a running poll holds (no ETag race with the
    poll's commit), and the poller already reads every subscription row. Stored as JSON text so an
    integer count stays an integer.
    """

    subscription_id: str
    instance_id: str
    trigger_kind: str
    parameters: Mapping[str, Any]
    callback_url: str = field(repr=False)
    created_at: datetime
    enabled: bool = True
    not_found_count: int = 0
    owner: Owner | None = None
    baseline: int | float | None = None
    etag: str | None = field(default=None, compare=False, repr=False)

    def to_entity(self) -> dict[str, Any]:
        return {
            "PartitionKey": self.instance_id, "RowKey": self.subscription_id,
            "TriggerKind": self.trigger_kind, "Parameters": json.dumps(dict(self.parameters), sort_keys=True),
            "CallbackUrl": self.callback_url, "CreatedAt": self.created_at, "Enabled": self.enabled,
            "NotFoundCount": self.not_found_count,
            **({"OwnerTenantId": self.owner.tenant_id, "OwnerObjectId": self.owner.object_id,
                "OwnerName": self.owner.name} if self.owner else {}),
            **({"Baseline": json.dumps(self.baseline)} if self.baseline is not None else {}),
        }

    @classmethod
    def from_entity(cls, entity: Mapping[str, Any]) -> "Subscription":
        return cls(
            subscription_id=entity["RowKey"], instance_id=entity["PartitionKey"],
            trigger_kind=entity["TriggerKind"], parameters=json.loads(entity.get("Parameters") or "{}"),
            callback_url=entity["CallbackUrl"],
            created_at=entity["CreatedAt"],
            enabled=bool(entity.get("Enabled", True)), not_found_count=int(entity.get("NotFoundCount") or 0),
            owner=Owner(entity["OwnerTenantId"], entity["OwnerObjectId"], entity.get("OwnerName") or "")
            if entity.get("OwnerObjectId") and entity.get("OwnerTenantId") else None,
            baseline=_baseline(entity.get("Baseline")),
            etag=entity.metadata.get("etag") if hasattr(entity, "metadata") else None,
        )


def _baseline(text: Any) -> int | float | None:
    """The stored baseline, or None when absent or unreadable (the first poll then sets it)."""
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class SubscriptionUpdates(ABC):
    """``update`` for any store with ``get`` and ``save`` (the Table store and the in-memory one)."""

    @abstractmethod
    def get(self, instance_id: str, subscription_id: str) -> Subscription:
        """One subscription; raises :class:`SubscriptionNotFoundError`."""

    @abstractmethod
    def save(self, subscription: Subscription) -> Subscription:
        """Write back a changed subscription (ETag-conditional); raises ``ConcurrentChange``."""

    def update(self, instance_id: str, subscription_id: str,
               change: Callable[[Subscription], Subscription]) -> Subscription:
        """Read, apply ``change`` and write back, starting over when a concurrent writer got there first.

        Raises :class:`SubscriptionNotFoundError` when the subscription is gone, and
        :class:`~ciconnector.errors.ConcurrentChange` when every one of :data:`UPDATE_ATTEMPTS` lost.
        """
        for _ in range(UPDATE_ATTEMPTS - 1):
            try:
                return self.save(change(self.get(instance_id, subscription_id)))
            except SubscriptionNotFoundError:
                raise
            except ConcurrentChange:
                continue
        return self.save(change(self.get(instance_id, subscription_id)))


class SubscriptionStore(SubscriptionUpdates):
    """CRUD on subscriptions; PartitionKey = instance id, RowKey = subscription id."""

    def __init__(self, tables: TableStore):
        self._tables = tables

    @property
    def _table(self):
        return self._tables.table(SUBSCRIPTIONS)

    def add(self, subscription: Subscription) -> Subscription:
        """Store a new subscription; raises ``ConcurrentChange`` if the id is taken."""
        with mapped("subscription"):
            metadata = self._table.create_entity(subscription.to_entity())
        return replace(subscription, etag=metadata.get("etag"))

    def get(self, instance_id: str, subscription_id: str) -> Subscription:
        """One subscription; raises :class:`SubscriptionNotFoundError`."""
        with mapped("subscription", missing=SubscriptionNotFoundError):
            return Subscription.from_entity(self._table.get_entity(instance_id, subscription_id))

    def delete(self, instance_id: str, subscription_id: str) -> None:
        """Remove a subscription; removing an unknown one is not an error."""
        with mapped("subscription"):
            self._table.delete_entity(instance_id, subscription_id)

    def list_for_instance(self, instance_id: str) -> list[Subscription]:
        """Every subscription of one instance (one partition query)."""
        with mapped("subscriptions"):
            entities = self._table.query_entities("PartitionKey eq @pk", parameters={"pk": instance_id})
            return [Subscription.from_entity(e) for e in entities]

    def save(self, subscription: Subscription) -> Subscription:
        """Write back a changed subscription; raises ``ConcurrentChange`` if someone changed or removed
        it since it was read."""
        with mapped("subscription"):
            metadata = self._table.update_entity(subscription.to_entity(), mode=UpdateMode.REPLACE,
                                                 etag=subscription.etag,
                                                 match_condition=MatchConditions.IfNotModified)
        return replace(subscription, etag=metadata.get("etag"))
