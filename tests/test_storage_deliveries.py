"""The delivery claim contract, against the in-memory store and Table Storage on real Azurite in both
connection modes: one write on the happy path, a crashed message may send again, any other copy is
a duplicate, a retry takes over with one conditional write; and the console's view of the records.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from ciconnector.errors import ConcurrentChange
from ciconnector.services import Stores
from ciconnector.storage.activity import ActivityStore
from ciconnector.storage.connection import CONNECTION_STRING
from ciconnector.storage.deliveries import (
    DEAD,
    DROPPED,
    RETRYING,
    SENT,
    DeliveryNotFoundError,
    DeliveryRecord,
    EventSummary,
)
from tests.fixtures.azurite import connection_in


def new_id() -> str:
    return uuid.uuid4().hex


def test_a_new_event_is_claimed_as_sent_in_one_write(stores):
    store = stores.deliveries
    sub, event = new_id(), new_id()
    with pytest.raises(DeliveryNotFoundError):
        store.get(sub, event)
    about = EventSummary("segmentThresholdCrossed", "HighValue", "above", False)
    before = datetime.now(timezone.utc) - timedelta(seconds=5)
    record = store.claim(sub, event, "inst", attempt=0, message_id="m1", about=about)
    stored = store.get(sub, event)
    assert stored == record and stored.etag == record.etag
    assert (stored.status, stored.attempts, stored.message_id, stored.instance_id) == (SENT, 0, "m1", "inst")
    assert stored.about == about and stored.updated_at is not None and stored.updated_at > before


def test_the_same_message_again_gets_its_claim_back_without_a_write(stores):
    store = stores.deliveries
    sub, event = new_id(), new_id()
    record = store.claim(sub, event, "inst", attempt=0, message_id="m1")
    again = store.claim(sub, event, "inst", attempt=0, message_id="m1")  # redelivered after a crash
    assert again == record and again.etag == record.etag
    store.settle(again, status=RETRYING, status_code=503, error="HTTP 503")
    with pytest.raises(ConcurrentChange):
        store.claim(sub, event, "inst", attempt=0, message_id="m1")  # its attempt is over


def test_any_other_message_for_the_attempt_is_a_duplicate(stores):
    store = stores.deliveries
    sub, event = new_id(), new_id()
    store.claim(sub, event, "inst", attempt=0, message_id="m1")
    for attempt in (0, 1, 2):
        with pytest.raises(ConcurrentChange):
            store.claim(sub, event, "inst", attempt=attempt, message_id="m2")
    assert store.get(sub, event).message_id == "m1"


def test_a_retry_takes_over_once_with_a_conditional_write(stores):
    store = stores.deliveries
    sub, event = new_id(), new_id()
    first = store.claim(sub, event, "inst", attempt=0, message_id="m1")
    retrying = store.settle(first, status=RETRYING, status_code=503, error="HTTP 503")
    assert (retrying.status, retrying.attempts) == (RETRYING, 1)
    assert (store.get(sub, event).last_status_code, store.get(sub, event).last_error) == (503, "HTTP 503")
    with pytest.raises(ConcurrentChange):
        store.claim(sub, event, "inst", attempt=0, message_id="m-copy")  # a stale copy of attempt 0
    with pytest.raises(ConcurrentChange):
        store.claim(sub, event, "inst", attempt=2, message_id="m-later")  # not this attempt
    retry = store.claim(sub, event, "inst", attempt=1, message_id="r1")
    assert (retry.status, retry.attempts, retry.message_id) == (SENT, 1, "r1")
    with pytest.raises(ConcurrentChange):
        store.claim(sub, event, "inst", attempt=1, message_id="r2")  # a copy of the retry
    with pytest.raises(ConcurrentChange):
        store.settle(first, status=DEAD)  # the first attempt's record is out of date
    assert store.claim(sub, event, "inst", attempt=1, message_id="r1") == retry


def test_two_copies_of_a_retry_racing_take_it_over_once(stores):
    store = stores.deliveries
    sub, event = new_id(), new_id()
    store.settle(store.claim(sub, event, "inst", attempt=0, message_id="m1"), status=RETRYING)
    seen = store.get(sub, event)
    store.claim(sub, event, "inst", attempt=1, message_id="r1")
    with pytest.raises(ConcurrentChange):
        store._write(DeliveryRecord(sub, event, "inst", status=SENT, attempts=1, message_id="r2",
                                    etag=seen.etag))  # the other copy's write, from the same read
    assert store.get(sub, event).message_id == "r1"


@pytest.mark.parametrize("final", [DEAD, DROPPED, "delivered"])
def test_a_final_record_takes_no_claim(stores, final):
    store = stores.deliveries
    sub, event = new_id(), new_id()
    store.settle(store.claim(sub, event, "inst", attempt=0, message_id="m1"), status=final)
    for attempt, message_id in ((0, "m1"), (0, "m2"), (1, "m3")):
        with pytest.raises(ConcurrentChange):
            store.claim(sub, event, "inst", attempt=attempt, message_id=message_id)


def test_a_retry_of_a_delivery_that_was_reset_is_stale(stores):
    store = stores.deliveries
    sub, event = new_id(), new_id()
    store.settle(store.claim(sub, event, "inst", attempt=0, message_id="m1"), status=RETRYING)
    store.reset(sub, event)  # a dead letter replayed: the chain starts again at attempt 0
    with pytest.raises(ConcurrentChange):
        store.claim(sub, event, "inst", attempt=1, message_id="r1")
    replayed = store.claim(sub, event, "inst", attempt=0, message_id="m2")
    assert (replayed.attempts, replayed.message_id) == (0, "m2")
    store.reset(new_id(), new_id())  # unknown: nothing to do


@pytest.mark.parametrize("mode", [CONNECTION_STRING])
def test_the_console_reads_counts_and_the_last_delivery_from_the_records(mode, request):
    stores = Stores.tables(connection_in(mode, request))
    assert isinstance(stores.activity, ActivityStore)
    store, sub = stores.deliveries, new_id()
    assert stores.activity.delivery_summary(sub) == ({}, None)
    store.claim(sub, "e1", "inst", attempt=0, message_id="m1", about=EventSummary("t", "S1", "failed"))
    failed = store.claim(sub, "e2", "inst", attempt=0, message_id="m2", about=EventSummary("t", "S2", "failed"))
    store.settle(failed, status=RETRYING, status_code=503, error="HTTP 503")
    counts, last = stores.activity.delivery_summary(sub)
    assert counts == {SENT: 1, RETRYING: 1}
    assert last is not None and (last.event_id, last.status, last.status_code, last.error, last.subject) == \
        ("e2", RETRYING, 503, "HTTP 503", "S2")
    store.claim(sub, "e3", "inst", attempt=0, message_id="m3", about=EventSummary("t", "S3", is_test=True))
    counts, last = stores.activity.delivery_summary(sub)
    assert last is not None and (last.event_id, last.status, last.status_code, last.is_test) == \
        ("e3", SENT, None, True)
