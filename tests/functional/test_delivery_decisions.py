"""Every delivery decision against in-memory stores and a scripted callback: 2xx, 410, 404 × N,
other 4xx, transient answers on the retry schedule (``Retry-After`` honoured) then a dead letter;
the one-write happy path of a fanned-out event; duplicates, crash redelivery, retries taking over
(one attempt at a time); fan-out packing and re-fanning; and replay re-enabling and re-watching."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import pytest

from ciconnector.delivery.message import (
    DeliveryMessage,
    FanoutMessage,
    MalformedMessageError,
    pack_fanout,
    parse_message,
)
from ciconnector.delivery.sender import CallbackAnswer
from ciconnector.errors import RecordNotFound
from ciconnector.storage.deliveries import DEAD, DELIVERED, DROPPED, RETRYING, SENT
from ciconnector.storage.queues import DELIVERY_QUEUE
from ciconnector.storage.subscriptions import SubscriptionNotFoundError

from .fakes import INSTANCE

SCHEDULE = (5.0, 300.0, 1800.0)  # DELIVERY_RETRY_SCHEDULE of the functional world
NOTIFICATION = {"trigger": "dataSourceRefreshFailed", "subjectName": "Loyalty program", "outcome": "failed",
                "instanceId": INSTANCE, "isTest": False}


class Crash(Exception):
    """The process dies here."""


@pytest.fixture
def sub(world):
    return world.subscribe("dataSourceRefreshFailed")


def notify(world, sub) -> str:
    """Queue a test notification to ``sub`` (no callback URL in the message); its event id."""
    return world.app.subscription_service.send_test(INSTANCE, sub.subscription_id)


def queue_event(world, *subs, event_id: str = "event-1", max_bytes: int = 45_000) -> list[dict]:
    """Queue what a poll queues for one new event: fan-out messages naming each subscription's
    callback URL and 404 count."""
    recipients = [(s.subscription_id, s.callback_url, s.not_found_count) for s in subs]
    messages = pack_fanout(INSTANCE, [(event_id, {**NOTIFICATION, "eventId": event_id}, recipients)],
                           max_bytes=max_bytes)
    for message in messages:
        world.queues.send(DELIVERY_QUEUE, message)
    return messages


def fan_out_queued(world) -> None:
    """Run the queued fan-out messages: the delivery messages they make are queued."""
    for q in world.queued():
        message = parse_message(json.dumps(q.message))
        assert isinstance(message, FanoutMessage)
        world.app.deliverer.fan_out(message)


def deliver(world, queued):
    """Deliver one taken message, as the delivery function does."""
    return world.app.deliverer.deliver(DeliveryMessage.parse(json.dumps(queued.message)), message_id=queued.message_id)


def deliver_until_settled(world) -> list:
    """Deliver, then each retry the deliverer queues, until nothing is queued."""
    outcomes = []
    while batch := world.deliver_queued():
        outcomes += batch
    return outcomes


@pytest.fixture
def round_trips(world, monkeypatch) -> Counter:
    """Calls of the stores' round-trip methods (a Table store makes one request for each)."""
    calls: Counter = Counter()
    stores = world.stores
    for label, store, names in (("deliveries", stores.deliveries, ("get", "_create", "_write", "reset")),
                                ("subscriptions", stores.subscriptions, ("get", "save", "delete"))):
        for name in names:
            monkeypatch.setattr(store, name, _counting(calls, f"{label}.{name}", getattr(store, name)))
    return calls


def _counting(calls: Counter, key: str, method):
    def counted(*args, **kwargs):
        calls[key] += 1
        return method(*args, **kwargs)
    return counted


# --- the happy path ---------------------------------------------------------------------------------

def test_a_fanned_out_event_costs_one_table_write_and_no_subscription_read(world, sub, round_trips):
    queue_event(world, sub)
    fan_out_queued(world)
    [queued] = world.queued()
    assert queued.message["callbackUrl"] == sub.callback_url and queued.message["attempt"] == 0
    assert (deliver(world, queued).status, world.callbacks.posts[0].url) == (DELIVERED, sub.callback_url)
    assert round_trips == Counter({"deliveries._create": 1})
    record = world.stores.deliveries.get(sub.subscription_id, "event-1")
    assert (record.status, record.message_id, record.attempts) == (SENT, queued.message_id, 0)
    assert (record.about.trigger, record.about.subject, record.about.is_test) == \
        ("dataSourceRefreshFailed", "Loyalty program", False)


def test_2xx_of_a_test_notification_reads_the_subscription(world, sub, round_trips):
    event_id = notify(world, sub)
    round_trips.clear()
    [queued] = world.queued()
    assert "callbackUrl" not in queued.message
    [outcome] = [deliver(world, queued)]
    assert (outcome.status, outcome.status_code) == (DELIVERED, 202)
    [post] = world.callbacks.posts
    assert (post.url, post.event_id, post.notification["isTest"]) == (sub.callback_url, event_id, True)
    assert round_trips == Counter({"deliveries._create": 1, "subscriptions.get": 1})
    assert world.stores.deliveries.get(sub.subscription_id, event_id).status == SENT


def test_a_message_without_callback_for_a_disabled_subscription_is_dead_lettered_unsent(world, sub):
    world.stores.subscriptions.update(INSTANCE, sub.subscription_id, lambda s: replace(s, enabled=False))
    message = DeliveryMessage(INSTANCE, sub.subscription_id, "old-message", {**NOTIFICATION, "eventId": "e"})
    world.queues.send(DELIVERY_QUEUE, message.to_dict())  # as queued before messages carried the URL
    assert [o.status for o in world.deliver_queued()] == [DEAD]
    assert world.callbacks.posts == []
    assert world.stores.dead_letters.list_for_instance(INSTANCE)[0].reason == "subscription is disabled"


def test_a_notification_for_a_removed_subscription_is_dropped(world, sub):
    notify(world, sub)
    world.app.subscription_service.unsubscribe(INSTANCE, sub.subscription_id)
    assert [o.status for o in world.deliver_queued()] == [DROPPED]
    assert world.callbacks.posts == []


# --- the callback's answers -------------------------------------------------------------------------

def test_410_removes_the_subscription(world, sub):
    world.callbacks.script = [410]
    queue_event(world, sub)
    assert [o.status for o in world.deliver_queued()] == [DROPPED]
    with pytest.raises(SubscriptionNotFoundError):
        world.stores.subscriptions.get(INSTANCE, sub.subscription_id)
    assert world.stores.deliveries.get(sub.subscription_id, "event-1").last_status_code == 410


def test_404_in_a_row_disables_the_subscription_and_dead_letters(world, sub):
    world.callbacks.script = [404, 404, 404]
    queue_event(world, sub)
    outcomes = deliver_until_settled(world)
    assert [o.status for o in outcomes] == [RETRYING, RETRYING, DEAD]
    stored = world.stores.subscriptions.get(INSTANCE, sub.subscription_id)
    assert (stored.enabled, stored.not_found_count) == (False, 3)
    [letter] = world.stores.dead_letters.list_for_instance(INSTANCE)
    assert "404 repeatedly" in letter.reason and letter.attempts == 3
    assert len(world.callbacks.posts) == 3


def test_a_2xx_clears_the_404_count_of_a_retry(world, sub):
    world.callbacks.script = [404, 202]
    queue_event(world, sub)
    assert [o.status for o in deliver_until_settled(world)] == [RETRYING, DELIVERED]
    assert world.stores.subscriptions.get(INSTANCE, sub.subscription_id).not_found_count == 0


def test_a_2xx_clears_the_404_count_the_message_carries_with_one_more_write(world, sub, round_trips):
    counted = world.stores.subscriptions.update(INSTANCE, sub.subscription_id, lambda s: replace(s, not_found_count=2))
    round_trips.clear()
    queue_event(world, counted)
    assert [o.status for o in world.deliver_queued()] == [DELIVERED]
    assert world.stores.subscriptions.get(INSTANCE, sub.subscription_id).not_found_count == 0
    assert round_trips["deliveries._create"] == 1 and round_trips["subscriptions.save"] == 1


@pytest.mark.parametrize("code", [400, 401, 403, 413, 302])
def test_other_4xx_and_3xx_dead_letter_at_once(world, sub, code):
    world.callbacks.script = [code]
    queue_event(world, sub)
    assert [(o.status, o.status_code) for o in world.deliver_queued()] == [(DEAD, code)]
    [letter] = world.stores.dead_letters.list_for_instance(INSTANCE)
    assert f"HTTP {code}" in letter.reason and world.queued() == []


@pytest.mark.parametrize("answer", [CallbackAnswer(408), CallbackAnswer(429), CallbackAnswer(500),
                                    CallbackAnswer(503), CallbackAnswer(None, "connect timeout"),
                                    CallbackAnswer(None, "cannot connect to flow.example.com")])
def test_transient_answers_follow_the_retry_schedule_then_dead_letter(world, sub, answer):
    world.callbacks.script = [answer] * (len(SCHEDULE) + 1)
    queue_event(world, sub)
    fan_out_queued(world)
    delays = []
    for attempt in range(len(SCHEDULE)):
        [queued] = world.queued()
        assert queued.message["attempt"] == attempt
        assert ("callbackUrl" in queued.message) == (attempt == 0), "retries read the subscription"
        outcome = deliver(world, queued)
        assert outcome.status == RETRYING
        delays.append(outcome.retry_in)
    for delay, base in zip(delays, SCHEDULE, strict=True):
        assert base * 0.9 <= delay <= base * 1.1
    [last] = world.deliver_queued()
    assert last.status == DEAD and world.queued() == []
    [letter] = world.stores.dead_letters.list_for_instance(INSTANCE)
    assert letter.reason.startswith("retries exhausted") and letter.attempts == len(SCHEDULE) + 1


def test_retry_after_is_honoured_up_to_the_longest_delay(world, sub):
    world.callbacks.script = [CallbackAnswer(429, retry_after=200), CallbackAnswer(503, retry_after=86_400)]
    notify(world, sub)
    [first] = world.deliver_queued()
    assert first.retry_in == 200
    [second] = world.deliver_queued()
    assert second.retry_in == max(SCHEDULE)
    [queued] = world.queued()
    assert queued.delay_seconds == max(SCHEDULE)


# --- duplicates, crashes and retries: one attempt at a time ------------------------------------------

def test_the_same_message_redelivered_after_a_crash_mid_post_is_sent_again(world, sub, monkeypatch):
    queue_event(world, sub)
    fan_out_queued(world)
    [queued] = world.queued()
    post = world.callbacks.post

    def post_then_die(url, notification, *, event_id):
        post(url, notification, event_id=event_id)  # the notification went out; the answer is lost
        raise Crash()

    monkeypatch.setattr(world.callbacks, "post", post_then_die)
    with pytest.raises(Crash):
        deliver(world, queued)
    monkeypatch.setattr(world.callbacks, "post", post)
    world.queues.redeliver(DELIVERY_QUEUE, queued)  # visible again: its worker is gone
    assert [o.status for o in world.deliver_queued()] == [DELIVERED]
    assert [p.event_id for p in world.callbacks.posts] == ["event-1", "event-1"], "the receiver dedupes by webhook-id"


def test_a_retry_recorded_by_a_worker_that_died_before_queuing_it_is_queued_on_redelivery(world, sub, monkeypatch):
    queue_event(world, sub)
    fan_out_queued(world)
    [queued] = world.queued()
    world.callbacks.script = [503]
    send = world.queues.send

    def die(name, message, **kwargs):  # the failure is recorded; the process dies queuing the retry
        raise Crash()

    monkeypatch.setattr(world.queues, "send", die)
    with pytest.raises(Crash):
        deliver(world, queued)
    monkeypatch.setattr(world.queues, "send", send)
    world.queues.redeliver(DELIVERY_QUEUE, queued)
    assert [o.status for o in world.deliver_queued()] == [RETRYING], "the lost retry is queued now"
    assert [o.status for o in world.deliver_queued()] == [DELIVERED]
    assert [p.event_id for p in world.callbacks.posts] == ["event-1", "event-1"]


def test_a_duplicate_message_with_another_id_is_dropped(world, sub):
    queue_event(world, sub)
    fan_out_queued(world)
    [queued] = world.queued()
    world.queues.redeliver(DELIVERY_QUEUE, queued)
    world.queues.send(DELIVERY_QUEUE, queued.message)  # the same delivery again, as another queue message
    world.queues.send(DELIVERY_QUEUE, queued.message)
    assert [o.status for o in world.deliver_queued()] == [DELIVERED, "duplicate", "duplicate"]
    assert len(world.callbacks.posts) == 1


def test_a_slow_receiver_never_gets_a_parallel_copy(world, sub, monkeypatch):
    """A copy of the delivery arrives while the first POST waits for its answer, which then times
    out: the copy is dropped unsent, and the retry alone sends again."""
    queue_event(world, sub)
    fan_out_queued(world)
    [queued] = world.queued()
    world.queues.send(DELIVERY_QUEUE, queued.message)
    [copy] = world.queued()
    post, during = world.callbacks.post, []

    def slow(url, notification, *, event_id):
        post(url, notification, event_id=event_id)
        during.append(deliver(world, copy))
        return CallbackAnswer(None, "no answer within 30 s")

    monkeypatch.setattr(world.callbacks, "post", slow)
    assert deliver(world, queued).status == RETRYING
    monkeypatch.setattr(world.callbacks, "post", post)
    assert [o.status for o in during] == ["duplicate"] and len(world.callbacks.posts) == 1
    [retry] = world.queued()
    assert deliver(world, retry).status == DELIVERED and len(world.callbacks.posts) == 2


def test_a_retry_takes_over_and_stale_copies_are_dropped(world, sub):
    world.callbacks.script = [503]
    queue_event(world, sub)
    fan_out_queued(world)
    [first] = world.queued()
    assert deliver(world, first).status == RETRYING
    [retry] = world.queued()
    # the first message back again (its worker died after queuing the retry, or before: it cannot
    # tell) queues the retry once more; the copy is dropped by the claim below
    assert deliver(world, first).status == RETRYING
    [retry_copy] = world.queued()
    world.queues.send(DELIVERY_QUEUE, first.message)  # a copy of attempt 0 from a re-fanned poll
    [stale] = world.queued()
    assert deliver(world, stale).status == "duplicate"
    assert deliver(world, retry).status == DELIVERED
    assert deliver(world, retry_copy).status == "duplicate"
    record = world.stores.deliveries.get(sub.subscription_id, "event-1")
    assert (record.status, record.attempts, record.message_id) == (SENT, 1, retry.message_id)
    world.queues.send(DELIVERY_QUEUE, retry.message)  # a copy of the retry
    assert [o.status for o in world.deliver_queued()] == ["duplicate"]
    assert len(world.callbacks.posts) == 2


# --- fan-out ---------------------------------------------------------------------------------------

def test_fan_out_splits_big_events_and_delivers_each_recipient_once(world):
    subs = [world.subscribe("dataSourceRefreshFailed") for _ in range(5)]
    recipients = [(s.subscription_id, s.callback_url, s.not_found_count) for s in subs]
    events = [(f"event-{n}", {**NOTIFICATION, "eventId": f"event-{n}"}, recipients) for n in range(3)]
    messages = pack_fanout(INSTANCE, events, max_bytes=700)
    parts = Counter(e["eventId"] for m in messages for e in m["events"])
    assert max(parts.values()) > 1, "an event's recipients are split over messages"
    assert all(len(json.dumps(m, separators=(",", ":"))) <= 700 for m in messages)
    for message in messages:
        world.queues.send(DELIVERY_QUEUE, message)
    assert [o.status for o in world.deliver_queued()] == [DELIVERED] * 15
    assert sorted((p.url, p.event_id) for p in world.callbacks.posts) == \
        sorted((s.callback_url, f"event-{n}") for s in subs for n in range(3))
    with pytest.raises(ValueError):
        pack_fanout(INSTANCE, events, max_bytes=300)


def test_a_fan_out_crashing_midway_is_redone_without_duplicate_posts(world, monkeypatch):
    subs = [world.subscribe("dataSourceRefreshFailed") for _ in range(3)]
    queue_event(world, *subs)
    [fanout] = world.queued()
    send = world.queues.send
    sent: list[dict] = []

    def send_twice_then_die(name, message, *, delay_seconds=0):
        if len(sent) == 2:
            raise Crash()
        sent.append(message)
        send(name, message, delay_seconds=delay_seconds)

    monkeypatch.setattr(world.queues, "send", send_twice_then_die)
    with pytest.raises(Crash):
        world.app.deliverer.fan_out(FanoutMessage.from_dict(fanout.message))
    monkeypatch.setattr(world.queues, "send", send)
    world.queues.redeliver(DELIVERY_QUEUE, fanout)
    outcomes = world.deliver_queued()
    assert Counter(o.status for o in outcomes) == Counter({DELIVERED: 3, "duplicate": 2})
    assert sorted(p.url for p in world.callbacks.posts) == sorted(s.callback_url for s in subs)


def test_message_shapes_round_trip_and_hide_callback_urls(world, sub):
    message = DeliveryMessage(INSTANCE, sub.subscription_id, "e", {"a": 1}, 0, sub.callback_url, 2)
    body = json.dumps(message.to_dict())
    assert parse_message(body) == message and json.loads(body)["notFoundCount"] == 2
    assert sub.callback_url not in repr(message)
    [packed] = pack_fanout(INSTANCE, [("e", {"a": 1}, [(sub.subscription_id, sub.callback_url, 2)])])
    fanout = parse_message(json.dumps(packed))
    assert isinstance(fanout, FanoutMessage) and fanout.deliveries() == [message]
    assert sub.callback_url not in repr(fanout)
    assert pack_fanout(INSTANCE, [("e", {"a": 1}, [])]) == []
    recipient = (sub.subscription_id, sub.callback_url, 0)
    [both] = pack_fanout(INSTANCE, [("e1", {}, [recipient]), ("e2", {}, []), ("e3", {}, [recipient])])
    assert [e["eventId"] for e in both["events"]] == ["e1", "e3"], "small events share a message"


@pytest.mark.parametrize("body", ["not json", "[]", "{}", '{"fanout": 2, "instanceId": "i", "events": []}',
                                  '{"fanout": 1, "instanceId": "i", "events": [{"eventId": "e"}]}',
                                  '{"fanout": 1, "instanceId": "i", "events": [{"eventId": "e", "notification": {},'
                                  ' "recipients": [["s", "u"]]}]}',
                                  '{"instanceId": "i", "subscriptionId": "s", "eventId": "e", "notification": {},'
                                  ' "callbackUrl": 3}',
                                  '{"instanceId": "i", "subscriptionId": "s", "eventId": "e", "notification": {},'
                                  ' "notFoundCount": -1}'])
def test_junk_is_a_malformed_message(body):
    with pytest.raises(MalformedMessageError):
        parse_message(body)


# --- replay ----------------------------------------------------------------------------------------

def test_replay_re_enables_re_watches_and_delivers(world, sub):
    world.callbacks.script = [404, 404, 404]
    notify(world, sub)
    deliver_until_settled(world)
    assert world.poll().skipped == "no active subscriptions"
    assert world.app.poller.plan() == [], "the only subscription is disabled: the instance is unwatched"
    [letter] = world.stores.dead_letters.list_for_instance(INSTANCE)

    replayed = world.app.deliverer.replay(INSTANCE, letter.dead_letter_id)
    assert replayed.event_id == letter.event_id and replayed.callback_url is None
    stored = world.stores.subscriptions.get(INSTANCE, sub.subscription_id)
    assert (stored.enabled, stored.not_found_count) == (True, 0)
    assert world.app.poller.plan() != [] and world.stores.dead_letters.list_for_instance(INSTANCE) == []
    assert [o.status for o in world.deliver_queued()] == [DELIVERED]


def test_a_retry_of_a_replayed_chain_is_stale(world, sub):
    world.callbacks.script = [503, 400]
    queue_event(world, sub)
    assert [o.status for o in world.deliver_queued()] == [RETRYING]
    [old_retry] = world.queued()
    assert deliver(world, old_retry).status == DEAD
    [letter] = world.stores.dead_letters.list_for_instance(INSTANCE)
    world.app.deliverer.replay(INSTANCE, letter.dead_letter_id)
    assert deliver(world, old_retry).status == "duplicate"
    assert [o.status for o in world.deliver_queued()] == [DELIVERED]
    assert len(world.callbacks.posts) == 3


def test_replay_of_an_unknown_letter_or_a_removed_subscription_is_not_found(world, sub):
    with pytest.raises(RecordNotFound) as err:
        world.app.deliverer.replay(INSTANCE, "no.such")
    assert err.value.code == "DeadLetterNotFound"
    world.callbacks.script = [400]
    notify(world, sub)
    world.deliver_queued()
    [letter] = world.stores.dead_letters.list_for_instance(INSTANCE)
    world.app.subscription_service.unsubscribe(INSTANCE, sub.subscription_id)
    with pytest.raises(SubscriptionNotFoundError):
        world.app.deliverer.replay(INSTANCE, letter.dead_letter_id)
