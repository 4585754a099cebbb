"""The store contract, run against every implementation: in memory, and Table Storage on real
Azurite in both connection modes (a connection string with the account key; identity-based, Azurite
over HTTPS checking bearer tokens MSAL's managed identity client gets from the simulator).

Not found is always a ``RecordNotFound`` subclass (a 404 ``ConnectorError``), a lost race always
``ConcurrentChange`` (409); azure-core errors never reach the caller.
"""
from __future__ import annotations

import base64
import json
import uuid
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from ciconnector.errors import ConcurrentChange, RecordNotFound
from ciconnector.storage import chunks, clients
from ciconnector.storage.deliveries import (
    DeadLetter,
    DeadLetterNotFoundError,
)
from ciconnector.storage.queues import QueueSender
from ciconnector.storage.subscriptions import Owner, Subscription, SubscriptionNotFoundError


def new_id() -> str:
    return uuid.uuid4().hex


def new_subscription(instance: str | None = None) -> Subscription:
    return Subscription(new_id(), instance or new_id(), "segmentThresholdCrossed",
                        {"segmentName": "S", "threshold": 3}, "https://example.com/run?sig=secret",
                        datetime.now(timezone.utc))


def test_subscription_round_trip_idempotent_delete_and_not_found(stores):
    store = stores.subscriptions
    sub = new_subscription()
    added = store.add(sub)
    got = store.get(sub.instance_id, sub.subscription_id)
    assert got == sub and got.etag and got.etag == added.etag
    assert "secret" not in repr(got)
    assert store.list_for_instance(sub.instance_id) == [sub] and store.list_for_instance(new_id()) == []
    store.delete(sub.instance_id, sub.subscription_id)
    store.delete(sub.instance_id, sub.subscription_id)
    with pytest.raises(SubscriptionNotFoundError) as err:
        store.get(sub.instance_id, sub.subscription_id)
    assert isinstance(err.value, RecordNotFound) and (err.value.status, err.value.code) == (404, "SubscriptionNotFound")
    with pytest.raises(SubscriptionNotFoundError):
        store.update(sub.instance_id, sub.subscription_id, lambda s: s)


def test_subscription_owner_round_trips_and_survives_updates(stores):
    store = stores.subscriptions
    owner = Owner(new_id(), new_id(), "Megan Maker")
    sub = store.add(replace(new_subscription(), owner=owner))
    got = store.get(sub.instance_id, sub.subscription_id)
    assert got.owner == owner and got.owner.key == f"{owner.tenant_id}/{owner.object_id}"
    assert store.update(sub.instance_id, sub.subscription_id, lambda s: replace(s, enabled=False)).owner == owner
    assert store.list_for_instance(sub.instance_id)[0].owner == owner
    unowned = store.add(new_subscription(sub.instance_id))  # function-key mode: no owner
    assert store.get(unowned.instance_id, unowned.subscription_id).owner is None


def test_subscription_rows_without_owner_properties_still_load():
    """Rows written before owners were recorded (no Owner* properties) load with no owner."""
    entity = new_subscription().to_entity()
    assert not any(k.startswith("Owner") for k in entity)
    assert Subscription.from_entity(entity).owner is None
    owned = replace(new_subscription(), owner=Owner("t", "o", "")).to_entity()
    assert (owned["OwnerTenantId"], owned["OwnerObjectId"], owned["OwnerName"]) == ("t", "o", "")
    assert Subscription.from_entity(owned).owner == Owner("t", "o")


def test_subscription_writes_lose_races_one_way(stores):
    store = stores.subscriptions
    sub = store.add(new_subscription())
    with pytest.raises(ConcurrentChange):
        store.add(sub)  # the id is taken
    first = store.get(sub.instance_id, sub.subscription_id)
    second = store.get(sub.instance_id, sub.subscription_id)
    store.save(replace(first, not_found_count=1))
    with pytest.raises(ConcurrentChange) as err:
        store.save(replace(second, enabled=False))
    assert err.value.status == 409
    store.delete(sub.instance_id, sub.subscription_id)
    with pytest.raises(ConcurrentChange):
        store.save(first)  # gone since it was read


def test_subscription_update_starts_over_when_a_concurrent_writer_wins(stores):
    store = stores.subscriptions
    sub = store.add(new_subscription())
    rounds = []

    def change(current: Subscription) -> Subscription:
        rounds.append(current.not_found_count)
        if len(rounds) == 1:  # a concurrent writer gets in between this read and its write
            store.save(replace(store.get(sub.instance_id, sub.subscription_id), not_found_count=5))
        return replace(current, not_found_count=current.not_found_count + 1)

    assert store.update(sub.instance_id, sub.subscription_id, change).not_found_count == 6
    assert rounds == [0, 5]

    def always_contended(current: Subscription) -> Subscription:
        store.save(store.get(sub.instance_id, sub.subscription_id))
        return current

    with pytest.raises(ConcurrentChange):
        store.update(sub.instance_id, sub.subscription_id, always_contended)


def test_chunks_round_trip_and_overflow():
    text = "é" * (chunks.CHUNK_CHARS * 2 + 5)
    props = chunks.split("State", text)
    assert props["StateChunks"] == 3 and chunks.join("State", props) == text
    assert chunks.join("State", {}) == ""
    with pytest.raises(chunks.ChunkOverflowError):
        chunks.split("State", "x" * (chunks.CHUNK_CHARS * chunks.MAX_CHUNKS + 1))


def test_dead_letters_round_trip(stores):
    store = stores.dead_letters
    instance = new_id()
    letter = DeadLetter(instance, new_id(), new_id(), "retries exhausted", 8, {"trigger": "x", "eventId": "e"},
                        datetime.now(timezone.utc))
    store.add(letter)
    [listed] = store.list_for_instance(instance)
    assert listed.to_dict()["deadLetterId"] == letter.dead_letter_id and listed.notification == letter.notification
    assert listed.to_dict()["trigger"] == "x" and store.list_for_instance(new_id()) == []
    store.remove(store.get(instance, letter.dead_letter_id))
    store.remove(letter)
    with pytest.raises(DeadLetterNotFoundError) as err:
        store.get(instance, letter.dead_letter_id)
    assert (err.value.status, err.value.code, err.value.field) == (404, "DeadLetterNotFound", "deadLetterId")


def test_queue_messages_are_base64_json_with_delay(storage_connection):
    name = f"q{new_id()[:20]}"
    QueueSender(storage_connection).send(name, {"instanceId": "abc"})
    QueueSender(storage_connection).send(name, {"instanceId": "later"}, delay_seconds=60)
    QueueSender(storage_connection).send(name, {"instanceId": "soon"}, delay_seconds=0.4)  # not rounded to 0
    raw = clients.queue_client(storage_connection, name)
    [message] = list(raw.receive_messages(max_messages=5))
    assert json.loads(base64.b64decode(message.content)) == {"instanceId": "abc"}
