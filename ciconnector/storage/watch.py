"""Per-instance watch state (what the poller has already seen), guarded by ETags and a lease."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from . import chunks
from .tables import WATCH_STATE, TableStore

ROW = "watch"


class WatchConflictError(RuntimeError):
    """Another poller changed the instance's watch state since it was read."""


@dataclass(frozen=True)
class WatchRecord:
    """The stored watch state of one instance; ``state`` is opaque serialized text."""

    instance_id: str
    state: str
    etag: str | None = field(default=None, repr=False)
    lease_until: datetime | None = None


class WatchStore:
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
        now = datetime.now(timezone.utc)
        try:
            self._table.create_entity({"PartitionKey": instance_id, "RowKey": ROW, "WatchedAt": now,
                                       **chunks.split("State", "")})
        except ResourceExistsError:
            self._table.update_entity({"PartitionKey": instance_id, "RowKey": ROW, "WatchedAt": now},
                                      mode=UpdateMode.MERGE)

    def list_watched(self) -> list[str]:
        """Ids of every watched instance."""
        return [e["PartitionKey"] for e in self._table.list_entities(select=["PartitionKey"])]

    def load(self, instance_id: str) -> WatchRecord:
        """The instance's record; raises ``LookupError`` when it is not watched."""
        try:
            entity = self._table.get_entity(instance_id, ROW)
        except ResourceNotFoundError:
            raise LookupError(instance_id) from None
        lease = entity.get("LeaseUntil")
        return WatchRecord(instance_id, chunks.join("State", entity), entity.metadata["etag"],
                           lease if isinstance(lease, datetime) else None)

    def acquire_lease(self, record: WatchRecord, *, seconds: float, now: datetime | None = None) -> WatchRecord | None:
        """Lease the instance for ``seconds``; None when another poller holds a live lease or got there first."""
        now = now or datetime.now(timezone.utc)
        if record.lease_until and record.lease_until > now:
            return None
        return self.renew_lease(record, seconds=seconds, now=now)

    def renew_lease(self, lease: WatchRecord, *, seconds: float, now: datetime | None = None) -> WatchRecord | None:
        """Extend a lease this poller holds; None when the row changed (the lease was lost)."""
        until = (now or datetime.now(timezone.utc)) + timedelta(seconds=seconds)
        try:
            metadata = self._table.update_entity(
                {"PartitionKey": lease.instance_id, "RowKey": ROW, "LeaseUntil": until},
                mode=UpdateMode.MERGE, etag=lease.etag, match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            return None
        return WatchRecord(lease.instance_id, lease.state, metadata["etag"], until)

    def commit(self, record: WatchRecord, state: str) -> WatchRecord:
        """Store the new state and release the lease; raises :class:`WatchConflictError` on a lost race."""
        entity = {"PartitionKey": record.instance_id, "RowKey": ROW, **chunks.split("State", state)}
        try:
            metadata = self._table.update_entity(entity, mode=UpdateMode.REPLACE, etag=record.etag,
                                                 match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            raise WatchConflictError(record.instance_id) from None
        return WatchRecord(record.instance_id, state, metadata["etag"], None)

    def unwatch(self, record: WatchRecord) -> bool:
        """Stop watching the instance unless its record changed meanwhile; True when removed."""
        try:
            self._table.delete_entity(record.instance_id, ROW, etag=record.etag,
                                      match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        return True
