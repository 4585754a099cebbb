"""Subscribe validation and the subscription service, an action, and the retry schedule, against
in-memory stores and the fake CI."""
from __future__ import annotations

import json

import pytest

from ciconnector.data_actions.registry import action
from ciconnector.data_actions.runner import execute
from ciconnector.delivery.schedule import RetrySchedule
from ciconnector.errors import InvalidInput, NotFound
from ciconnector.operations import RawRequest
from ciconnector.storage.queues import DELIVERY_QUEUE
from ciconnector.webhooks.subscribing import SubscribeRequest

from .conftest import CALLBACK, World
from .fakes import INSTANCE


def test_subscribe_stores_watches_and_lists_without_the_callback_secret(world):
    sub = world.subscribe("segmentThresholdCrossed", segmentName="HighValue", threshold=5)
    assert world.stores.subscriptions.get(INSTANCE, sub.subscription_id) == sub
    assert sub.parameters["direction"] == "above" and world.app.poller.plan()
    [listed] = world.app.subscription_service.list(INSTANCE)
    assert listed["subscriptionId"] == sub.subscription_id and "secret" not in json.dumps(listed)


@pytest.mark.parametrize("kind, body, field", [
    ("segmentThresholdCrossed", {"callbackUrl": CALLBACK, "segmentName": "Nope", "threshold": 5}, "segmentName"),
    ("measureThresholdCrossed", {"callbackUrl": CALLBACK, "measureName": "Nope", "threshold": 5}, "measureName"),
    ("segmentThresholdCrossed", {"callbackUrl": CALLBACK, "segmentName": "HighValue"}, "threshold"),
    ("dataSourceRefreshFailed", {"callbackUrl": "http://flow.example.com/run"}, "callbackUrl"),
    ("noSuchKind", {"callbackUrl": CALLBACK}, None),
])
def test_bad_subscriptions_are_400_and_store_nothing(world, kind, body, field):
    with pytest.raises(InvalidInput) as err:
        world.app.subscription_service.subscribe(
            SubscribeRequest(INSTANCE, kind, json.dumps(body).encode(), "application/json"))
    assert err.value.status == 400 and (field is None or err.value.field == field)
    assert world.stores.subscriptions.list_for_instance(INSTANCE) == [] and world.app.poller.plan() == []


def test_an_instance_outside_the_allowlist_is_refused():
    world = World(environment={"CALLBACK_ALLOWED_HOSTS": "flow.example.com:443",
                               "CI_INSTANCE_IDS": "11111111-1111-4111-8111-111111111111"})
    with pytest.raises(InvalidInput) as err:
        world.subscribe("dataSourceRefreshFailed")
    assert (err.value.code, err.value.field) == ("InstanceNotAllowed", "instanceId")
    assert world.ci.calls == [], "the allowlist is checked before CI is asked"


def test_unsubscribe_is_idempotent_and_test_of_unknown_is_404(world):
    sub = world.subscribe("dataSourceRefreshFailed")
    service = world.app.subscription_service
    service.unsubscribe(INSTANCE, sub.subscription_id)
    service.unsubscribe(INSTANCE, sub.subscription_id)
    service.unsubscribe(INSTANCE, "not-a-key!")
    assert service.list(INSTANCE) == []
    for subscription_id in (sub.subscription_id, "not-a-key!"):
        with pytest.raises(NotFound) as err:
            service.send_test(INSTANCE, subscription_id)
        assert err.value.code == "SubscriptionNotFound"
    assert world.queues.take(DELIVERY_QUEUE) == []


def test_an_action_runs_against_the_fake_ci(world):
    answer = execute(action("ListSegments"), RawRequest(route_params={"instanceId": INSTANCE}), ci=world.ci,
                     settings=world.app.settings)
    assert answer.status == 200 and [s["name"] for s in answer.body["value"]] == ["HighValue"]


def test_an_action_on_an_instance_outside_the_allowlist_is_404():
    world = World(environment={"CI_INSTANCE_IDS": "11111111-1111-4111-8111-111111111111"})
    with pytest.raises(NotFound):
        execute(action("ListSegments"), RawRequest(route_params={"instanceId": INSTANCE}), ci=world.ci,
                settings=world.app.settings)
    assert world.ci.calls == []


def test_the_retry_schedule_jitters_honours_retry_after_and_ends():
    schedule = RetrySchedule((5.0, 300.0), jitter=0.1)
    assert all(4.5 <= schedule.delay_after(1) <= 5.5 for _ in range(50))
    assert all(270 <= schedule.delay_after(2) <= 330 for _ in range(50))
    assert schedule.delay_after(1, retry_after=60) == 60
    assert schedule.delay_after(1, retry_after=10_000) == 300, "Retry-After is capped at the longest delay"
    assert schedule.delay_after(3) is None and schedule.delay_after(0) is None
    assert RetrySchedule((5.0,), jitter=0).delay_after(1) == 5.0
