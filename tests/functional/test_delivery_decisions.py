"""Every delivery decision against in-memory stores and a scripted callback: 2xx, 410, 404 × N,
other 4xx, transient answers on the retry schedule (``Retry-After`` honoured) then a dead letter,
duplicates, and replay re-enabling and re-watching."""
from __future__ import annotations

import json

import pytest

from ciconnector.delivery.message import DeliveryMessage
from ciconnector.delivery.sender import CallbackAnswer
from ciconnector.errors import RecordNotFound
from ciconnector.storage.deliveries import DEAD, DELIVERED, DROPPED, RETRYING
from ciconnector.storage.subscriptions import SubscriptionNotFoundError

from .fakes import INSTANCE

SCHEDULE = (5.0, 300.0, 1800.0)  # DELIVERY_RETRY_SCHEDULE of the functional world


@pytest.fixture
def sub(world):
    return world.subscribe("dataSourceRefreshFailed")


def notify(world, sub) -> str:
    """Queue a test notification to ``sub``; its event id."""
    return world.app.subscription_service.send_test(INSTANCE, sub.subscription_id)


def deliver_until_settled(world) -> list:
    """Deliver, then each retry the deliverer queues, until nothing is queued."""
    outcomes = []
    while batch := world.deliver_queued():
        outcomes += batch
    return outcomes


def test_2xx_is_delivered_once_with_the_event_id(world, sub):
    event_id = notify(world, sub)
    [outcome] = world.deliver_queued()
    assert (outcome.status, outcome.status_code) == (DELIVERED, 202)
    [post] = world.callbacks.posts
    assert (post.url, post.event_id, post.notification["isTest"]) == (sub.callback_url, event_id, True)
    assert world.stores.deliveries.get(sub.subscription_id, event_id).status == DELIVERED


def test_410_removes_the_subscription(world, sub):
    world.callbacks.script = [410]
    notify(world, sub)
    assert [o.status for o in world.deliver_queued()] == [DROPPED]
    with pytest.raises(SubscriptionNotFoundError):
        world.stores.subscriptions.get(INSTANCE, sub.subscription_id)


def test_404_in_a_row_disables_the_subscription_and_dead_letters(world, sub):
    world.callbacks.script = [404, 404, 404]
    notify(world, sub)
    outcomes = deliver_until_settled(world)
    assert [o.status for o in outcomes] == [RETRYING, RETRYING, DEAD]
    stored = world.stores.subscriptions.get(INSTANCE, sub.subscription_id)
    assert (stored.enabled, stored.not_found_count) == (False, 3)
    [letter] = world.stores.dead_letters.list_for_instance(INSTANCE)
    assert "404 repeatedly" in letter.reason and letter.attempts == 3


def test_a_2xx_clears_the_404_count(world, sub):
    world.callbacks.script = [404, 202]
    notify(world, sub)
    assert [o.status for o in deliver_until_settled(world)] == [RETRYING, DELIVERED]
    assert world.stores.subscriptions.get(INSTANCE, sub.subscription_id).not_found_count == 0


@pytest.mark.parametrize("code", [400, 401, 403, 413, 302])
def test_other_4xx_and_3xx_dead_letter_at_once(world, sub, code):
    world.callbacks.script = [code]
    notify(world, sub)
    assert [(o.status, o.status_code) for o in world.deliver_queued()] == [(DEAD, code)]
    [letter] = world.stores.dead_letters.list_for_instance(INSTANCE)
    assert f"HTTP {code}" in letter.reason and world.queued() == []


@pytest.mark.parametrize("answer", [CallbackAnswer(408), CallbackAnswer(429), CallbackAnswer(500),
                                    CallbackAnswer(503), CallbackAnswer(None, "connect timeout"),
                                    CallbackAnswer(None, "cannot connect to flow.example.com")])
def test_transient_answers_follow_the_retry_schedule_then_dead_letter(world, sub, answer):
    world.callbacks.script = [answer] * (len(SCHEDULE) + 1)
    notify(world, sub)
    delays = []
    for attempt in range(len(SCHEDULE)):
        [queued] = world.queued()
        assert queued.message["attempt"] == attempt
        outcome = world.app.deliverer.deliver(DeliveryMessage.parse(json.dumps(queued.message)))
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


def test_a_duplicate_message_is_not_sent_again(world, sub):
    notify(world, sub)
    [queued] = world.queued()
    message = DeliveryMessage.parse(json.dumps(queued.message))
    assert world.app.deliverer.deliver(message).status == DELIVERED
    assert world.app.deliverer.deliver(message).status == "duplicate"
    assert len(world.callbacks.posts) == 1


def test_a_copy_arriving_while_another_worker_sends_is_deferred(world, sub):
    notify(world, sub)
    [queued] = world.queued()
    message = DeliveryMessage.parse(json.dumps(queued.message))
    world.stores.deliveries.claim(message.subscription_id, message.event_id, INSTANCE, attempt=0, stale_after=60)
    outcome = world.app.deliverer.deliver(message)
    assert outcome.status == "deferred" and world.callbacks.posts == []
    [again] = world.queued()
    assert again.delay_seconds == outcome.retry_in and again.message == message.to_dict()


def test_a_notification_for_a_removed_subscription_is_dropped(world, sub):
    notify(world, sub)
    world.app.subscription_service.unsubscribe(INSTANCE, sub.subscription_id)
    assert [o.status for o in world.deliver_queued()] == [DROPPED]
    assert world.callbacks.posts == []


def test_replay_re_enables_re_watches_and_delivers(world, sub):
    world.callbacks.script = [404, 404, 404]
    notify(world, sub)
    deliver_until_settled(world)
    assert world.poll().skipped == "no active subscriptions"
    assert world.app.poller.plan() == [], "the only subscription is disabled: the instance is unwatched"
    [letter] = world.stores.dead_letters.list_for_instance(INSTANCE)

    replayed = world.app.deliverer.replay(INSTANCE, letter.dead_letter_id)
    assert replayed.event_id == letter.event_id
    stored = world.stores.subscriptions.get(INSTANCE, sub.subscription_id)
    assert (stored.enabled, stored.not_found_count) == (True, 0)
    assert world.app.poller.plan() != [] and world.stores.dead_letters.list_for_instance(INSTANCE) == []
    assert [o.status for o in world.deliver_queued()] == [DELIVERED]


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
