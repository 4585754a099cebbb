"""Table and queue stores against real Azurite: ETags, leases, claims, chunking, base64 queues.

Every store test runs in both storage connection modes (``storage_connection``): a connection
string with the account key, and identity-based (Azurite over HTTPS checking bearer tokens that
MSAL's managed identity client gets from the simulator's endpoint).
"""
from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from ciconnector.storage import chunks, clients
from ciconnector.storage.connection import StorageConnection
from ciconnector.storage.deliveries import (DELIVERED, RETRYING, DeadLetter, DeadLetterStore,
                                            DeliveryInProgressError, DeliveryStore)
from ciconnector.storage.queues import QueueSender
from ciconnector.storage.subscriptions import Subscription, SubscriptionNotFoundError, SubscriptionStore
from ciconnector.storage.tables import TableStore
from ciconnector.storage.watch import WatchConflictError, WatchStore


@pytest.fixture
def tables(storage_connection: StorageConnection) -> TableStore:
    return TableStore(storage_connection)


def new_id() -> str:
    return uuid.uuid4().hex


def test_subscription_round_trip_and_idempotent_delete(tables):
    store = SubscriptionStore(tables)
    instance = new_id()
    sub = Subscription(new_id(), instance, "segmentThresholdCrossed", {"segmentName": "S", "threshold": 3},
                       "https://example.com/run?sig=secret", datetime.now(timezone.utc))
    store.add(sub)
    got = store.get(instance, sub.subscription_id)
    assert got == sub and got.etag
    assert "secret" not in repr(got)
    assert store.list_for_instance(instance) == [sub]
    store.delete(instance, sub.subscription_id)
    store.delete(instance, sub.subscription_id)
    with pytest.raises(SubscriptionNotFoundError):
        store.get(instance, sub.subscription_id)


def test_subscription_save_detects_concurrent_change(tables):
    store = SubscriptionStore(tables)
    sub = store.add(Subscription(new_id(), new_id(), "dataSourceRefreshFailed", {}, "https://e.com/?sig=1",
                                 datetime.now(timezone.utc)))
    first = store.get(sub.instance_id, sub.subscription_id)
    second = store.get(sub.instance_id, sub.subscription_id)
    store.save(first.__class__(**{**first.__dict__, "not_found_count": 1}))
    with pytest.raises(Exception) as err:
        store.save(second.__class__(**{**second.__dict__, "enabled": False}))
    assert "Modified" in type(err.value).__name__ or "412" in str(err.value)


def test_watch_lease_excludes_a_second_poller_and_commit_needs_the_lease(tables):
    watch = WatchStore(tables)
    instance = new_id()
    watch.watch(instance)
    watch.watch(instance)
    assert instance in watch.list_watched()
    record = watch.load(instance)
    lease = watch.acquire_lease(record, seconds=60)
    assert lease is not None
    assert watch.acquire_lease(record, seconds=60) is None  # stale ETag
    assert watch.acquire_lease(watch.load(instance), seconds=60) is None  # live lease
    later = datetime.now(timezone.utc) + timedelta(seconds=61)
    taken_over = watch.acquire_lease(watch.load(instance), seconds=60, now=later)
    assert taken_over is not None
    with pytest.raises(WatchConflictError):
        watch.commit(lease, "state of the poller that lost its lease")
    committed = watch.commit(taken_over, "x" * 100_000)
    assert watch.load(instance).state == "x" * 100_000
    committed = watch.commit(committed, "small")
    assert watch.load(instance).state == "small"
    watch.watch(instance)  # a subscribe while a poller found no subscriptions...
    assert not watch.unwatch(committed), "...keeps the instance watched"
    assert watch.unwatch(watch.load(instance)) and instance not in watch.list_watched()


def test_chunks_round_trip_and_overflow():
    text = "é" * (chunks.CHUNK_CHARS * 2 + 5)
    props = chunks.split("State", text)
    assert props["StateChunks"] == 3 and chunks.join("State", props) == text
    assert chunks.join("State", {}) == ""
    with pytest.raises(chunks.ChunkOverflowError):
        chunks.split("State", "x" * (chunks.CHUNK_CHARS * chunks.MAX_CHUNKS + 1))


def test_delivery_claim_is_exclusive_until_stale_and_final_is_final(tables):
    store = DeliveryStore(tables)
    sub, event = new_id(), new_id()
    record = store.claim(sub, event, "inst", attempt=0, stale_after=30)
    assert record is not None
    with pytest.raises(DeliveryInProgressError):
        store.claim(sub, event, "inst", attempt=0, stale_after=30)
    taken_over = store.claim(sub, event, "inst", attempt=0, stale_after=0)  # the first worker is presumed dead
    assert taken_over is not None
    assert store.settle(record, status=DELIVERED) is None  # the dead worker's write loses
    retrying = store.settle(taken_over, status=RETRYING, status_code=503, error="HTTP 503")
    assert retrying.attempts == 1 and store.get(sub, event).status == RETRYING
    assert store.claim(sub, event, "inst", attempt=0, stale_after=30) is None, "a re-emitted copy is stale"
    again = store.claim(sub, event, "inst", attempt=1, stale_after=30)
    assert store.settle(again, status=DELIVERED, status_code=202).attempts == 2
    assert store.claim(sub, event, "inst", attempt=2, stale_after=30) is None


def test_a_retry_of_a_delivery_that_was_reset_is_stale(tables):
    store = DeliveryStore(tables)
    sub, event = new_id(), new_id()
    store.settle(store.claim(sub, event, "inst", attempt=0, stale_after=30), status=RETRYING)
    store.reset(sub, event)  # a dead letter replayed: the chain starts again at attempt 0
    assert store.claim(sub, event, "inst", attempt=1, stale_after=30) is None
    assert store.claim(sub, event, "inst", attempt=0, stale_after=30) is not None


def test_dead_letters_round_trip(tables):
    store = DeadLetterStore(tables)
    instance = new_id()
    letter = DeadLetter(instance, new_id(), new_id(), "retries exhausted", 8, {"trigger": "x", "eventId": "e"},
                        datetime.now(timezone.utc))
    store.add(letter)
    [listed] = store.list_for_instance(instance)
    assert listed.to_json()["deadLetterId"] == letter.dead_letter_id and listed.notification == letter.notification
    store.remove(store.get(instance, letter.dead_letter_id))
    with pytest.raises(LookupError):
        store.get(instance, letter.dead_letter_id)


def test_queue_messages_are_base64_json_with_delay(storage_connection):
    name = f"q{new_id()[:20]}"
    QueueSender(storage_connection).send(name, {"instanceId": "abc"})
    QueueSender(storage_connection).send(name, {"instanceId": "later"}, delay_seconds=60)
    QueueSender(storage_connection).send(name, {"instanceId": "soon"}, delay_seconds=0.4)  # not rounded to 0
    raw = clients.queue_client(storage_connection, name)
    [message] = list(raw.receive_messages(max_messages=5))
    assert json.loads(base64.b64decode(message.content)) == {"instanceId": "abc"}
