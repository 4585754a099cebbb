"""Webhook subscriptions, partitioned by CI instance."""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Callable, Mapping

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from .tables import SUBSCRIPTIONS, TableStore


UPDATE_ATTEMPTS = 5
"""Read-modify-write rounds :meth:`SubscriptionStore.update` tries under contention."""


class SubscriptionNotFoundError(LookupError):
    """No subscription with that id exists for that instance."""


@dataclass(frozen=True)
class Subscription:
    """One flow's webhook subscription to one trigger kind on one CI instance.

    ``callback_url`` is a bearer secret (it carries ``sig=``): it is never logged or shown whole.
    """

    subscription_id: str
    instance_id: str
    trigger_kind: str
    parameters: Mapping[str, Any]
    callback_url: str = field(repr=False)
    created_at: datetime
    enabled: bool = True
    not_found_count: int = 0
    etag: str | None = field(default=None, compare=False, repr=False)

    def to_entity(self) -> dict[str, Any]:
        return {
            "PartitionKey": self.instance_id, "RowKey": self.subscription_id,
            "TriggerKind": self.trigger_kind, "Parameters": json.dumps(dict(self.parameters), sort_keys=True),
            "CallbackUrl": self.callback_url, "CreatedAt": self.created_at, "Enabled": self.enabled,
            "NotFoundCount": self.not_found_count,
        }

    @classmethod
    def from_entity(cls, entity: Mapping[str, Any]) -> "Subscription":
        return cls(
            subscription_id=entity["RowKey"], instance_id=entity["PartitionKey"],
            trigger_kind=entity["TriggerKind"], parameters=json.loads(entity.get("Parameters") or "{}"),
            callback_url=entity["CallbackUrl"],
            created_at=entity["CreatedAt"],
            enabled=bool(entity.get("Enabled", True)), not_found_count=int(entity.get("NotFoundCount") or 0),
            etag=entity.metadata.get("etag") if hasattr(entity, "metadata") else None,
        )


class SubscriptionStore:
    """CRUD on subscriptions; PartitionKey = instance id, RowKey = subscription id."""

    def __init__(self, tables: TableStore):
        self._tables = tables

    @property
    def _table(self):
        return self._tables.table(SUBSCRIPTIONS)

    def add(self, subscription: Subscription) -> Subscription:
        """Store a new subscription."""
        self._table.create_entity(subscription.to_entity())
        return subscription

    def get(self, instance_id: str, subscription_id: str) -> Subscription:
        """One subscription; raises :class:`SubscriptionNotFoundError`."""
        try:
            return Subscription.from_entity(self._table.get_entity(instance_id, subscription_id))
        except ResourceNotFoundError:
            raise SubscriptionNotFoundError(subscription_id) from None

    def delete(self, instance_id: str, subscription_id: str) -> None:
        """Remove a subscription; removing an unknown one is not an error."""
        self._table.delete_entity(instance_id, subscription_id)

    def list_for_instance(self, instance_id: str) -> list[Subscription]:
        """Every subscription of one instance (one partition query)."""
        entities = self._table.query_entities("PartitionKey eq @pk", parameters={"pk": instance_id})
        return [Subscription.from_entity(e) for e in entities]

    def save(self, subscription: Subscription) -> Subscription:
        """Write back a changed subscription; raises ``ResourceModifiedError`` if someone changed it since it was read."""
        metadata = self._table.update_entity(subscription.to_entity(), mode=UpdateMode.REPLACE,
                                             etag=subscription.etag, match_condition=MatchConditions.IfNotModified)
        return replace(subscription, etag=metadata.get("etag"))

    def update(self, instance_id: str, subscription_id: str,
               change: Callable[[Subscription], Subscription]) -> Subscription:
        """Read, apply ``change`` and write back, starting over when a concurrent writer got there first.

        Raises :class:`SubscriptionNotFoundError` when the subscription is gone.
        """
        for _ in range(UPDATE_ATTEMPTS - 1):
            try:
                return self.save(change(self.get(instance_id, subscription_id)))
            except ResourceModifiedError:
                continue
            except ResourceNotFoundError:
                raise SubscriptionNotFoundError(subscription_id) from None
        return self.save(change(self.get(instance_id, subscription_id)))
