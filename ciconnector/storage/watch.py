"""Per-instance watch partitions: what the poller has seen, its pending notifications (a transactional
outbox) and its threshold states, all fenced by the watch row's ETag.

Table ``WatchState``, PartitionKey = instance id. Row keys sort so that the small rows every poll
reads are one contiguous range below ``"2"`` (read in one range query):

* ``0subs``: ``Generation``, a fresh uuid4 hex whenever the instance's subscriptions change
  (:meth:`WatchPartitions.watch`, :meth:`WatchPartitions.touch`); a poll re-reads the
  subscriptions only when it changed, and :meth:`WatchPartitions.deactivate` is fenced by it;
* ``0watch``: ``Active``, ``State`` (the poller's JSON object as compact text, split by
  :mod:`.chunks`; opaque here), ``LeaseUntil``, ``PolledAt``, ``WatchedAt``, ``CommitSeq``;
* ``1o:<key>``: an outbox entry, ``Items`` (JSON text, split by :mod:`.chunks`; opaque here),
  committed in the same transaction as the state it belongs to, deleted once dispatched;
* ``2t:<shard>``: the threshold states of the subscriptions in one of :data:`THRESHOLD_SHARDS`
  shards (:func:`threshold_shard` of the subscription id), ``State`` = JSON ``{id: state}``, read
  only when needed (:meth:`WatchPartitions.thresholds`). Shards, not a row per subscription:
  a Table transaction costs per row, so 5,000 crossings write 64 rows rather than 5,000; a shard
  holds about 80 characters per subscription, so a row reaches :data:`MAX_JSON_CHARS` only at
  about 380,000 threshold subscriptions on one instance.

**Fencing.** Every transaction of a :meth:`~WatchPartitions.commit` merges the ``0watch`` row on
the condition of its ETag (each transaction yields the ETag for the next), so a poller whose view
is stale commits nothing, and of two pollers of one instance at most one commits. The last one,
which carries the state, is also conditional on the ``0subs`` row the poll read: a subscription
added or removed during the poll makes it fail, so the job cursor never advances past outcomes a
subscription the poll did not know should have received.

**Limits** (Table Storage: 1 MiB per entity with strings counted as UTF-16, 64 KiB per string
property, 100 operations and 4 MiB per entity-group transaction): an outbox entry and the state
hold at most :data:`MAX_JSON_CHARS` characters of JSON (480,000; JSON is written ASCII-only, so
characters are bytes); a :class:`CommitGroup` at most :data:`MAX_GROUP_OPERATIONS` operations and
about :data:`TRANSACTION_BYTES` of payload. Beyond these :meth:`~WatchPartitions.commit` raises
``ValueError`` before writing anything.

Rows written before this layout (RowKey ``watch``) are ignored: such an instance is polled again
once it is watched again (a subscribe, an enable or a replay).

:class:`WatchPartitions` holds the logic; :class:`WatchStore` (Table Storage) and
:class:`~ciconnector.storage.memory.MemoryWatchStore` only supply the row primitives, so both
behave identically.
"""
from __future__ import annotations

import json
import logging
import uuid
import zlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, Mapping, Sequence

from azure.core import MatchConditions
from azure.data.tables import TableEntity, UpdateMode

from ..errors import ConcurrentChange, RecordNotFound
from ..timeutil import utc, utc_now
from ..trigger_kinds.thresholds import ThresholdState
from . import chunks
from .azure_errors import mapped
from .tables import WATCH_STATE, TableStore

logger = logging.getLogger(__name__)

SUBS_ROW = "0subs"
WATCH_ROW = "0watch"
OUTBOX_PREFIX = "1o:"
THRESHOLD_PREFIX = "2t:"
THRESHOLD_SHARDS = 64
"""Threshold state rows per instance (see the module docstring)."""
SMALL_ROWS_END = "2"
"""Every row key of :meth:`WatchPartitions.read`'s range is below this."""

MAX_TRANSACTION_OPERATIONS = 100
MAX_GROUP_OPERATIONS = MAX_TRANSACTION_OPERATIONS - 1
"""One operation of every transaction is the fencing merge of the watch row."""
MAX_JSON_CHARS = chunks.MAX_CHARS
"""Largest JSON text of one outbox entry (and of the state): 480,000 characters."""
TRANSACTION_BYTES = 3_500_000
"""Estimated request payload one transaction may carry (Table's limit is 4 MiB)."""
_OPERATION_OVERHEAD = 600
"""Bytes per operation beyond its entity's JSON: the changeset part's headers and URL."""
NO_LEASE = datetime(1970, 1, 1, tzinfo=timezone.utc)
"""What ``LeaseUntil`` holds once released (a merge cannot remove a property); read as ``None``."""
_WATCH_RETRIES = 5


class InstanceNotWatchedError(RecordNotFound):
    """The instance has no watch row: nobody ever subscribed to it."""

    def __init__(self) -> None:
        super().__init__("InstanceNotWatched", "The instance is not watched.", field="instanceId")


class RowMissing(RecordNotFound):
    """A row an operation needed does not exist (404); the stores' primitives raise it."""

    def __init__(self) -> None:
        super().__init__("RowMissing", "A watch partition row is missing.")


@dataclass(frozen=True)
class OutboxEntry:
    """Pending notifications, committed with the state they belong to.

    ``key`` is unique within the instance (the poller makes it); ``items`` is any JSON-able value,
    opaque to storage, of at most :data:`MAX_JSON_CHARS` characters as compact JSON.
    """

    key: str
    items: Any


@dataclass(frozen=True)
class CommitGroup:
    """Writes that must be atomic together (one entity-group transaction): at most
    :data:`MAX_GROUP_OPERATIONS` rows (threshold shards + outbox entries)."""

    threshold_shards: Mapping[str, Mapping[str, ThresholdState]] = field(default_factory=dict)
    """Shard (:func:`threshold_shard`) → the COMPLETE new content of that shard, subscription id →
    state (the row is replaced; an empty content deletes it, a row already gone is fine). Every id
    must belong to its shard."""
    outbox: tuple[OutboxEntry, ...] = ()

    @property
    def operations(self) -> int:
        return len(self.threshold_shards) + len(self.outbox)


def threshold_shard(subscription_id: str) -> str:
    """The shard holding a subscription's threshold state: two hex digits, stable across processes."""
    return f"{zlib.crc32(subscription_id.encode('utf-8')) % THRESHOLD_SHARDS:02x}"


@dataclass(frozen=True)
class WatchView:
    """What one read of an instance's watch partition saw; the ETags fence later writes."""

    instance_id: str
    active: bool
    state: Mapping[str, Any]
    """The poller's JSON object; ``{}`` when never committed or unreadable."""
    generation: str = ""
    """The ``0subs`` row's generation; ``""`` when it has none."""
    lease_until: datetime | None = None
    polled_at: datetime | None = None
    outbox: tuple[OutboxEntry, ...] = ()
    """Pending outbox entries, by key."""
    etag: str = field(default="", repr=False, compare=False)
    subs_etag: str | None = field(default=None, repr=False, compare=False)


OpKind = Literal["create", "merge", "put", "upsert", "delete"]


@dataclass(frozen=True)
class Op:
    """One row operation of a transaction, as the primitives take it.

    ``create``: insert (a lost race if the row exists); ``merge``: merge into an existing row;
    ``put``: insert or replace; ``upsert``: insert or merge; ``delete``. ``merge`` and ``delete``
    are conditional on ``etag`` when it is given, and raise :class:`RowMissing` when the row does
    not exist, except a ``delete`` that is a transaction's only operation (then it is a no-op).
    Properties whose value is ``None`` are not written (as the Azure SDK does).
    """

    kind: OpKind
    row_key: str
    props: Mapping[str, Any] = field(default_factory=dict)
    etag: str | None = None


@dataclass(frozen=True)
class StoredRow:
    """A row as the primitives return it."""

    row_key: str
    props: Mapping[str, Any]
    etag: str


class WatchPartitions(ABC):
    """The watch partition API, over four row primitives (see the module docstring)."""

    # -- primitives ------------------------------------------------------------------------------

    @abstractmethod
    def _transact(self, instance_id: str, ops: Sequence[Op]) -> list[str]:
        """Apply ``ops`` atomically (one entity-group transaction); the new ETag of each operation
        (``""`` for deletes). Raises ``ConcurrentChange`` (a condition failed, a created row
        exists), :class:`RowMissing`, or ``StorageUnavailable``."""

    @abstractmethod
    def _query(self, instance_id: str, low: str, high: str) -> list[StoredRow]:
        """Rows with ``low <= RowKey < high``, by row key (every page)."""

    @abstractmethod
    def _get(self, instance_id: str, row_key: str) -> StoredRow | None:
        """One row (its small properties at least), or ``None``."""

    @abstractmethod
    def _instances(self, *, active_only: bool) -> list[str]:
        """Instance ids with a watch row (only those whose row is active, when asked)."""

    def _before_commit_transaction(self, number: int) -> None:
        """Called before the ``number``-th (1-based) transaction of a commit (a test hook)."""
        return None

    # -- API -------------------------------------------------------------------------------------

    def watch(self, instance_id: str) -> None:
        """Make sure the instance is polled: a new subscription generation, then the watch row is
        created (active, empty state) or, when inactive, made active. Never loses the state or
        threshold rows. Callers change the subscriptions *before* calling it: a poll that read
        the new generation must see them (else it may deactivate the instance)."""
        self._transact(instance_id, [Op("upsert", SUBS_ROW, {"Generation": uuid.uuid4().hex})])
        for _ in range(_WATCH_RETRIES):
            row = self._get(instance_id, WATCH_ROW)
            now = utc_now()
            try:
                if row is None:
                    self._transact(instance_id, [Op("create", WATCH_ROW, {
                        "Active": True, "WatchedAt": now, **chunks.split("State", "{}")})])
                elif not row.props.get("Active"):
                    self._transact(instance_id, [Op("merge", WATCH_ROW, {"Active": True, "WatchedAt": now},
                                                    row.etag)])
                return
            except (ConcurrentChange, RowMissing):
                continue  # a poller deactivated it, or another watch() got there: look again
        raise ConcurrentChange(_what(instance_id))

    def touch(self, instance_id: str) -> None:
        """A new subscription generation (its subscriptions changed: unsubscribe, disable), if the
        instance was ever watched; nothing otherwise."""
        try:
            self._transact(instance_id, [Op("merge", SUBS_ROW, {"Generation": uuid.uuid4().hex})])
        except RowMissing:
            pass

    def list_watched(self, *, include_inactive: bool = False) -> list[str]:
        """Ids of the instances whose watch row is active (or of every instance with a watch row)."""
        return self._instances(active_only=not include_inactive)

    def read(self, instance_id: str) -> WatchView:
        """The watch row, the subscription generation and the pending outbox entries (one range
        query); raises :class:`InstanceNotWatchedError` when there is no watch row."""
        subs = watch = None
        outbox: list[OutboxEntry] = []
        for row in self._query(instance_id, "", SMALL_ROWS_END):
            if row.row_key == SUBS_ROW:
                subs = row
            elif row.row_key == WATCH_ROW:
                watch = row
            elif row.row_key.startswith(OUTBOX_PREFIX):
                entry = _outbox_entry(instance_id, row)
                if entry is not None:
                    outbox.append(entry)
        if watch is None:
            raise InstanceNotWatchedError()
        props = watch.props
        lease = props.get("LeaseUntil")
        polled = props.get("PolledAt")
        return WatchView(
            instance_id, bool(props.get("Active")), _state(instance_id, chunks.join("State", props)),
            str(subs.props.get("Generation") or "") if subs else "",
            utc(lease) if isinstance(lease, datetime) and lease > NO_LEASE else None,
            utc(polled) if isinstance(polled, datetime) else None,
            tuple(outbox), watch.etag, subs.etag if subs else None)

    def take_lease(self, view: WatchView, *, seconds: float, now: datetime) -> WatchView:
        """Lease the instance until ``now + seconds`` (also to renew one); raises
        ``ConcurrentChange`` when the watch row changed since ``view`` (whoever holds a live lease
        is the caller's question: ``view.lease_until``)."""
        until = utc(now) + timedelta(seconds=seconds)
        etag = self._fenced(view, [Op("merge", WATCH_ROW, {"LeaseUntil": until}, view.etag)])[0]
        return replace(view, lease_until=until, etag=etag)

    def thresholds(self, instance_id: str) -> dict[str, ThresholdState]:
        """Every threshold state of the instance by subscription id (one range query over at most
        :data:`THRESHOLD_SHARDS` rows); unreadable shards or states are skipped with a warning (their
        subscriptions start again from their subscribe-time baseline)."""
        states = {}
        for row in self._query(instance_id, THRESHOLD_PREFIX, _prefix_end(THRESHOLD_PREFIX)):
            shard = row.row_key.removeprefix(THRESHOLD_PREFIX)
            try:
                content = json.loads(chunks.join("State", row.props))
                if not isinstance(content, dict):
                    raise ValueError("not an object")
            except ValueError as exc:
                logger.warning("threshold shard %s of instance %s is unreadable (%s); skipped", shard, instance_id, exc)
                continue
            for subscription_id, data in content.items():
                try:
                    states[subscription_id] = ThresholdState.from_dict(data)
                except ValueError as exc:
                    logger.warning("threshold state of subscription %s of instance %s is unreadable (%s); skipped",
                                   subscription_id, instance_id, exc)
        return states

    def commit(self, view: WatchView, *, state: Mapping[str, Any], polled_at: datetime,
               groups: Sequence[CommitGroup] = ()) -> WatchView:
        """Store the new state and the groups' rows, and release the lease.

        Groups are packed in order, whole, into entity-group transactions of at most
        :data:`MAX_GROUP_OPERATIONS` rows besides the watch row (a group that reuses a row of the
        current transaction starts the next). Every transaction merges the watch row on the
        condition of the ETag the previous one left (the first: ``view.etag``), so a stale view
        commits nothing; the state, ``PolledAt`` and the lease release go with the last one.
        With no groups this is one merge.

        Raises ``ValueError`` before anything is written when a group is too large (operations or
        payload), reuses a row, has an oversized outbox entry or an invalid key, or the state is
        too large. Raises ``ConcurrentChange`` when a transaction loses the race: transactions
        before it stay committed (each holds whole groups and is consistent on its own), the
        state is not committed, so the next poll detects the rest again. Threshold rows already
        gone are not an error. Returns the new view (outbox with the new entries, no lease).
        """
        text = _json(state)
        transactions = _pack(groups, {**chunks.split("State", text), "PolledAt": utc(polled_at),
                                      "LeaseUntil": NO_LEASE})
        if len(transactions[-1][0]) >= MAX_GROUP_OPERATIONS:  # room for the subscription fence
            transactions = [*transactions[:-1], (transactions[-1][0], {}), ([], transactions[-1][1])]
        etag = view.etag
        for number, (ops, final) in enumerate(transactions, start=1):
            self._before_commit_transaction(number)
            fence = [Op("merge", WATCH_ROW, {**final, "CommitSeq": number}, etag)]
            if number == len(transactions) and view.subs_etag is not None:
                # the state (the job cursor above all) says which outcomes were handled for the
                # subscriptions this poll knew: a subscribe or unsubscribe since makes it stale
                fence.append(Op("merge", SUBS_ROW, {}, view.subs_etag))
            etags = self._commit_transaction(view.instance_id, [*fence, *ops])
            etag = etags[0]
            if len(fence) == 2:
                view = replace(view, subs_etag=etags[1])
        # the entries as given (already encoded once for the rows; no second encoding on the hot path)
        outbox = {entry.key: entry for entry in view.outbox} | {
            entry.key: entry for group in groups for entry in group.outbox}
        return replace(view, state=json.loads(text), polled_at=utc(polled_at), lease_until=None,
                       outbox=tuple(outbox[key] for key in sorted(outbox)), etag=etag)

    def release(self, view: WatchView, *, polled_at: datetime | None = None) -> None:
        """Release the lease of ``view`` (and record ``polled_at`` if given), for error paths: a
        lost race is not an error (logged at info). Nothing to write when ``view`` holds no lease
        and no ``polled_at`` is given. Raises ``StorageUnavailable``."""
        if view.lease_until is None and polled_at is None:
            return
        props: dict[str, Any] = {"LeaseUntil": NO_LEASE}
        if polled_at is not None:
            props["PolledAt"] = utc(polled_at)
        try:
            self._fenced(view, [Op("merge", WATCH_ROW, props, view.etag)])
        except ConcurrentChange:
            logger.info("lease of instance %s not released: the watch row changed meanwhile", view.instance_id)

    def dispatched(self, instance_id: str, keys: Sequence[str]) -> None:
        """Delete these outbox entries (transactions of up to 100 deletes); entries already gone
        are fine."""
        row_keys = list(dict.fromkeys(OUTBOX_PREFIX + key for key in keys))
        for start in range(0, len(row_keys), MAX_TRANSACTION_OPERATIONS):
            batch = row_keys[start:start + MAX_TRANSACTION_OPERATIONS]
            try:
                self._transact(instance_id, [Op("delete", key) for key in batch])
            except RowMissing:  # one of them is gone: the others one by one
                for key in batch:
                    self._transact(instance_id, [Op("delete", key)])

    def deactivate(self, view: WatchView) -> None:
        """Stop polling the instance (no enabled subscriptions): the watch row becomes inactive
        (lease released) on the condition of ``view.etag``, in one transaction with a no-op merge of
        the ``0subs`` row on the condition of ``view.subs_etag`` (creating it when the view saw
        none), so a subscribe since the read makes it fail. Raises ``ConcurrentChange`` on a lost
        race. The state and threshold rows are kept: a re-watched instance continues from them."""
        subs = Op("merge", SUBS_ROW, {}, view.subs_etag) if view.subs_etag is not None \
            else Op("create", SUBS_ROW, {"Generation": ""})
        self._fenced(view, [Op("merge", WATCH_ROW, {"Active": False, "LeaseUntil": NO_LEASE}, view.etag), subs])

    # -- helpers ---------------------------------------------------------------------------------

    def _fenced(self, view: WatchView, ops: Sequence[Op]) -> list[str]:
        """``_transact`` where a missing row is a lost race."""
        try:
            return self._transact(view.instance_id, ops)
        except RowMissing:
            raise ConcurrentChange(_what(view.instance_id)) from None

    def _commit_transaction(self, instance_id: str, ops: list[Op]) -> list[str]:
        """One commit transaction; deletes of threshold rows already gone are dropped and the
        transaction is tried again (it failed as a whole, so its fence still holds)."""
        while True:
            try:
                return self._transact(instance_id, ops)
            except RowMissing:
                deletes = {op.row_key for op in ops if op.kind == "delete"}
                if not deletes:
                    raise ConcurrentChange(_what(instance_id)) from None
                present = {row.row_key for row in self._query(instance_id, THRESHOLD_PREFIX,
                                                              _prefix_end(THRESHOLD_PREFIX))}
                kept = [op for op in ops if op.kind != "delete" or op.row_key in present]
                if len(kept) == len(ops):  # the watch row itself is gone
                    raise ConcurrentChange(_what(instance_id)) from None
                ops = kept


class WatchStore(WatchPartitions):
    """Watch partitions in Table Storage."""

    def __init__(self, tables: TableStore):
        self._tables = tables

    @property
    def _table(self):
        return self._tables.table(WATCH_STATE)

    def _transact(self, instance_id: str, ops: Sequence[Op]) -> list[str]:
        table = self._table
        with mapped(_what(instance_id), missing=RowMissing):
            if len(ops) == 1:
                op = ops[0]
                entity = _entity(instance_id, op)
                if op.kind == "create":
                    return [table.create_entity(entity)["etag"]]
                if op.kind == "merge":
                    return [table.update_entity(entity, mode=UpdateMode.MERGE, **_condition(op))["etag"]]
                if op.kind in ("put", "upsert"):
                    mode = UpdateMode.REPLACE if op.kind == "put" else UpdateMode.MERGE
                    return [table.upsert_entity(entity, mode=mode)["etag"]]
                table.delete_entity(entity, **_condition(op))  # a missing row is a no-op
                return [""]
            results = table.submit_transaction([_transaction_operation(instance_id, op) for op in ops])
            return [str(result.get("etag") or "") for result in results]

    def _query(self, instance_id: str, low: str, high: str) -> list[StoredRow]:
        query = "PartitionKey eq @pk and RowKey lt @high" + (" and RowKey ge @low" if low else "")
        with mapped(_what(instance_id)):
            return [_stored(entity) for entity in self._table.query_entities(
                query, parameters={"pk": instance_id, "low": low, "high": high})]

    def _get(self, instance_id: str, row_key: str) -> StoredRow | None:
        try:
            with mapped(_what(instance_id), missing=RowMissing):
                entity = self._table.get_entity(instance_id, row_key, select=["Active"])
            return StoredRow(row_key, dict(entity), str(entity.metadata.get("etag") or ""))
        except RowMissing:
            return None

    def _instances(self, *, active_only: bool) -> list[str]:
        query = f"RowKey eq '{WATCH_ROW}'" + (" and Active eq true" if active_only else "")
        with mapped("watch states"):
            return [e["PartitionKey"] for e in self._table.query_entities(query, select=["PartitionKey"])]


def _what(instance_id: str) -> str:
    return f"watch state of instance {instance_id}"


def _json(value: Any) -> str:
    """Compact, ASCII-only JSON (so characters are bytes, and UTF-16 units)."""
    return json.dumps(value, separators=(",", ":"))


def _prefix_end(prefix: str) -> str:
    """The smallest string above every string starting with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _state(instance_id: str, text: str) -> Mapping[str, Any]:
    if not text:
        return {}
    try:
        state = json.loads(text)
    except ValueError as exc:
        logger.warning("watch state of instance %s is unreadable (%s); read as empty", instance_id, exc)
        return {}
    if not isinstance(state, dict):
        logger.warning("watch state of instance %s is not a JSON object; read as empty", instance_id)
        return {}
    return state


def _outbox_entry(instance_id: str, row: StoredRow) -> OutboxEntry | None:
    key = row.row_key.removeprefix(OUTBOX_PREFIX)
    try:
        return OutboxEntry(key, json.loads(chunks.join("Items", row.props)))
    except ValueError as exc:
        logger.warning("outbox entry %s of instance %s is unreadable (%s); skipped", key, instance_id, exc)
        return None


_FORBIDDEN_KEY_CHARS = set("/\\#?") | {chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))}


def _row_key(prefix: str, key: str, what: str) -> str:
    if not key or len(key) > 512 or any(c in _FORBIDDEN_KEY_CHARS for c in key):
        raise ValueError(f"{what} {key!r} cannot be a row key (1 to 512 characters, none of / \\ # ? or controls)")
    return prefix + key


def _group_ops(group: CommitGroup) -> list[Op]:
    """The group's row operations; raises ``ValueError`` for invalid or oversized groups."""
    if group.operations > MAX_GROUP_OPERATIONS:
        raise ValueError(f"a commit group has {group.operations} operations; at most {MAX_GROUP_OPERATIONS} "
                         "fit in one transaction with the watch row")
    ops = []
    for shard, content in group.threshold_shards.items():
        strays = [sid for sid in content if threshold_shard(sid) != shard]
        if strays:
            raise ValueError(f"subscriptions {strays[:3]} do not belong to threshold shard {shard!r}")
        key = _row_key(THRESHOLD_PREFIX, shard, "threshold shard")
        if not content:
            ops.append(Op("delete", key))
            continue
        text = _json({sid: state.to_dict() for sid, state in sorted(content.items())})
        if len(text) > MAX_JSON_CHARS:
            raise ValueError(f"threshold shard {shard!r} is {len(text)} characters of JSON; at most {MAX_JSON_CHARS}")
        ops.append(Op("put", key, chunks.split("State", text)))
    for entry in group.outbox:
        text = _json(entry.items)
        if len(text) > MAX_JSON_CHARS:
            raise ValueError(f"outbox entry {entry.key!r} is {len(text)} characters of JSON; at most "
                             f"{MAX_JSON_CHARS} fit in one entity: split it")
        ops.append(Op("put", _row_key(OUTBOX_PREFIX, entry.key, "outbox key"), chunks.split("Items", text)))
    if len({op.row_key for op in ops}) < len(ops):
        raise ValueError("a commit group writes one row twice")
    return ops


def _op_bytes(op: Op) -> int:
    """An estimate of the operation's share of a transaction's request payload."""
    return len(json.dumps(op.props, default=str)) + len(op.row_key) + _OPERATION_OVERHEAD


def _pack(groups: Sequence[CommitGroup], final: dict[str, Any]
          ) -> list[tuple[list[Op], dict[str, Any]]]:
    """Transactions for ``groups``: each transaction's row operations and the properties its watch
    row merge writes besides ``CommitSeq`` (``final`` for the last one, nothing for the others)."""
    fence_bytes = _op_bytes(Op("merge", WATCH_ROW, {"CommitSeq": 0}))
    final_bytes = _op_bytes(Op("merge", WATCH_ROW, final))
    bins: list[list[Op]] = [[]]
    sizes = [0]
    for group in groups:
        ops = _group_ops(group)
        if not ops:
            continue
        size = sum(_op_bytes(op) for op in ops)
        if size + fence_bytes > TRANSACTION_BYTES:
            raise ValueError(f"a commit group is about {size} bytes; a transaction carries at most "
                             f"{TRANSACTION_BYTES}: split it")
        current = bins[-1]
        if current and (len(current) + len(ops) > MAX_GROUP_OPERATIONS
                        or sizes[-1] + size + fence_bytes > TRANSACTION_BYTES
                        or {op.row_key for op in current} & {op.row_key for op in ops}):
            bins.append([])
            sizes.append(0)
        bins[-1].extend(ops)
        sizes[-1] += size
    if sizes[-1] + final_bytes > TRANSACTION_BYTES:
        bins.append([])
    return [(ops, final if number == len(bins) else {}) for number, ops in enumerate(bins, start=1)]


def _entity(instance_id: str, op: Op) -> dict[str, Any]:
    return {**op.props, "PartitionKey": instance_id, "RowKey": op.row_key}


def _condition(op: Op) -> dict[str, Any]:
    if op.etag is None:
        return {"match_condition": MatchConditions.Unconditionally}
    return {"etag": op.etag, "match_condition": MatchConditions.IfNotModified}


def _transaction_operation(instance_id: str, op: Op) -> tuple[str, dict[str, Any], dict[str, Any]]:
    entity = _entity(instance_id, op)
    if op.kind == "create":
        return "create", entity, {}
    if op.kind == "merge":
        return "update", entity, {"mode": UpdateMode.MERGE, **_condition(op)}
    if op.kind == "put":
        return "upsert", entity, {"mode": UpdateMode.REPLACE}
    if op.kind == "upsert":
        return "upsert", entity, {"mode": UpdateMode.MERGE}
    return "delete", entity, _condition(op)


def _stored(entity: TableEntity) -> StoredRow:
    props = {k: v for k, v in entity.items() if k not in ("PartitionKey", "RowKey")}
    return StoredRow(entity["RowKey"], props, str(entity.metadata.get("etag") or ""))
