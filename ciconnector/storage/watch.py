"""Per-instance watch state (what the poller has already seen), guarded by ETags and a lease."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError
from azure.data.tables import UpdateMode

from ..errors import ConcurrentChange, RecordNotFound
from ..timeutil import utc_now
from . import chunks
from .azure_errors import mapped
from .tables import WATCH_STATE, TableStore

ROW = "watch"


class InstanceNotWatchedError(RecordNotFound):
    """The instance has no watch row: nobody subscribed to it, or its last subscription went."""

    def __init__(self) -> None:
        super().__init__("InstanceNotWatched", "The instance is not watched.", field="instanceId")


@dataclass(frozen=True)
class WatchRecord:
    """The stored watch state of one instance; ``state`` is opaque serialized text."""

    instance_id: str
    state: str
    etag: str | None = field(default=None, repr=False)
    lease_until: datetime | None = None


class Leasing(ABC):
    """``acquire_lease`` for any watch store with ``renew_lease`` (Table and in-memory)."""

    def acquire_lease(self, record: WatchRecord, *, seconds: float, now: datetime | None = None) -> WatchRecord:
        """Lease the instance for ``seconds``; raises ``ConcurrentChange`` when another poller holds a
        live lease or changed the row since ``record`` was read."""
        now = now or utc_now()
        if record.lease_until and record.lease_until > now:
            raise ConcurrentChange(f"watch state of instance {record.instance_id}")
        return self.renew_lease(record, seconds=seconds, now=now)

    @abstractmethod
    def renew_lease(self, lease: WatchRecord, *, seconds: float, now: datetime | None = None) -> WatchRecord:
        """Extend a lease this poller holds; raises ``ConcurrentChange`` when the row changed (the lease was lost)."""


class WatchStore(Leasing):
    """One row per watched instance: PartitionKey = instance id, RowKey = ``watch``.

    A poller takes a short lease (an ETag-conditional write) before it polls and commits the new
    state with the lease's ETag, so two pollers of one instance never both emit the same event.
    """

    def __init__(self, tables: TableStore):
        self._tables = tables

    @property
    def _table(self):
        return self._tables.table(WATCH_STATE)

    def watch(self, instance_id: str) -> None:
        """Make sure the instance is polled, keeping its state. On an existing row this still writes
        (``WatchedAt``), so a poller that saw no subscriptions cannot unwatch it with a stale ETag."""
        now = utc_now()
        with mapped(f"watch state of instance {instance_id}"):
            try:
                self._table.create_entity({"PartitionKey": instance_id, "RowKey": ROW, "WatchedAt": now,
                                           **chunks.split("State", "")})
            except ResourceExistsError:
                self._table.update_entity({"PartitionKey": instance_id, "RowKey": ROW, "WatchedAt": now},
                                          mode=UpdateMode.MERGE)

    def list_watched(self) -> list[str]:
        """Ids of every watched instance."""
        with mapped("watch states"):
            return [e["PartitionKey"] for e in self._table.list_entities(select=["PartitionKey"])]

    def load(self, instance_id: str) -> WatchRecord:
        """The instance's record; raises :class:`InstanceNotWatchedError`."""
        with mapped(f"watch state of instance {instance_id}", missing=InstanceNotWatchedError):
            entity = self._table.get_entity(instance_id, ROW)
        lease = entity.get("LeaseUntil")
        return WatchRecord(instance_id, chunks.join("State", entity), entity.metadata["etag"],
                           lease if isinstance(lease, datetime) else None)

    def renew_lease(self, lease: WatchRecord, *, seconds: float, now: datetime | None = None) -> WatchRecord:
        until = (now or utc_now()) + timedelta(seconds=seconds)
        with mapped(f"watch state of instance {lease.instance_id}"):
            metadata = self._table.update_entity(
                {"PartitionKey": lease.instance_id, "RowKey": ROW, "LeaseUntil": until},
                mode=UpdateMode.MERGE, etag=lease.etag, match_condition=MatchConditions.IfNotModified)
        return WatchRecord(lease.instance_id, lease.state, metadata["etag"], until)

    def commit(self, record: WatchRecord, state: str) -> WatchRecord:
        """Store the new state and release the lease; raises ``ConcurrentChange`` on a lost race."""
        entity = {"PartitionKey": record.instance_id, "RowKey": ROW, **chunks.split("State", state)}
        with mapped(f"watch state of instance {record.instance_id}"):
            metadata = self._table.update_entity(entity, mode=UpdateMode.REPLACE, etag=record.etag,
                                                 match_condition=MatchConditions.IfNotModified)
        return WatchRecord(record.instance_id, state, metadata["etag"], None)

    def unwatch(self, record: WatchRecord) -> None:
        """Stop watching the instance; raises ``ConcurrentChange`` when its record changed meanwhile
        (a subscribe watched it again). A row that is already gone is not an error."""
        with mapped(f"watch state of instance {record.instance_id}"):
            self._table.delete_entity(record.instance_id, ROW, etag=record.etag,
                                      match_condition=MatchConditions.IfNotModified)
