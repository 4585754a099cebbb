"""Trigger-engine situations from a busy tenant, through the local host, Azurite and the simulator.

Each test states the guarantee it attacks.
"""
from __future__ import annotations

import time

import pytest

from dev.cisim import SAMPLE_INSTANCE_ID as INSTANCE
from tests.test_triggers_e2e import (
    dead_letters,
    flow,
    list_subscriptions,
    poll_now,
    run_timer,
    subscribed,
    wait_for_dead_letters,
)

pytestmark = pytest.mark.usefixtures("clean_app_state")

MSAL_5XX_THROTTLE_SECONDS = 5
"""MSAL's ThrottledHttpClient replays a token endpoint's 5xx without Retry-After for 5 seconds."""


def test_first_event_after_saving_a_flow_is_delivered(app_host, receiver, ci_sim):
    """Guarantee: a fresh subscription receives every event after its creation, before the first poll too.

    The README's quick start: the instance's first subscription, a refresh that fails before any
    poll, one poll: the failure is delivered exactly once; a second poll delivers nothing more.
    """
    assert list_subscriptions(app_host) == []
    name = flow()
    subscribed(app_host, receiver, "dataSourceRefreshFailed", name)
    ci_sim.control.start_refresh("Loyalty")
    ci_sim.control.fail_refresh("Loyalty", "The source storage account refused the connection.")
    poll_now(app_host)
    [note] = receiver.wait_for(name, timeout=30)
    assert note.body["trigger"] == "dataSourceRefreshFailed" and note.body["isTest"] is False
    assert note.body["subjectName"] and note.body["outcome"] == "failed"
    poll_now(app_host)
    time.sleep(3)  # a second delivery would have arrived by now (delivery runs at once)
    assert len(receiver.received(name)) == 1


def test_replayed_dead_letter_re_watches_its_instance(app_host, receiver, ci_sim):
    """Guarantee: replay leaves the instance watched, so the re-enabled subscription gets later events.

    Three 404s disable the only subscription; the next poll then unwatches the instance. Replay
    must watch it again: the next real refresh failure reaches the flow.
    """
    name = flow()
    receiver.script(name, [404, 404, 404])
    created = subscribed(app_host, receiver, "dataSourceRefreshFailed", name)
    app_host.request("POST", created["location"].removeprefix(app_host.base_url) + "/test", key="master")
    [letter] = wait_for_dead_letters(app_host)
    [subscription] = list_subscriptions(app_host)
    assert subscription["enabled"] is False
    poll_now(app_host)  # only disabled subscriptions: the poll unwatches the instance
    assert app_host.invoke("SchedulePolls").status_code < 300
    replay = app_host.request("POST", f"{instance_base(created)}/deadletters/{letter['deadLetterId']}/replay",
                              key="master")
    assert replay.status_code == 202
    receiver.wait_for(name)  # the replayed test notification
    assert dead_letters(app_host) == []
    poll_now(app_host)  # skipped unless the instance is watched again; takes the baseline

    ci_sim.control.start_refresh("Loyalty")
    ci_sim.control.fail_refresh("Loyalty", "The source storage account refused the connection.")
    run_timer(app_host)  # the timer plans polls only for watched instances
    notes = receiver.wait_for(name, count=2, timeout=30)
    assert notes[-1].body["trigger"] == "dataSourceRefreshFailed" and notes[-1].body["isTest"] is False


def instance_base(created: dict) -> str:
    """``/api/instances/<id>`` of a subscription's Location."""
    path = created["location"].split("/api/", 1)[1]
    return "/api/" + "/".join(path.split("/")[:2])


def test_slow_callback_gets_one_copy(app_host, receiver, app_env):
    """Guarantee: one delivery attempt at a time per event, however slow the receiver.

    The flow takes longer than DELIVERY_TIMEOUT_SECONDS (the connect-and-send bound, 5 s here) to
    answer 200: the notification was sent, so the answer is awaited, not raced by a second copy.
    """
    slow = float(app_env["DELIVERY_TIMEOUT_SECONDS"]) + 3
    name = flow()
    receiver.script(name, [200], delay_seconds=slow)
    created = subscribed(app_host, receiver, "dataSourceRefreshFailed", name)
    app_host.request("POST", created["location"].removeprefix(app_host.base_url) + "/test", key="master")
    receiver.wait_for(name, timeout=30)
    time.sleep(slow + 4)  # long enough for a retry after the test schedule's first 1 s delay
    assert [n.status for n in receiver.received(name)] == [200]
    assert dead_letters(app_host) == []


def test_token_endpoint_outage_is_typed_everywhere(app_host, receiver, ci_sim):
    """Guarantee: an Entra ID outage (token endpoint 5xx) is a typed failure, never a crash.

    Actions and subscribe answer 502 JSON, health answers 503 JSON, and a poll keeps its state and
    its instance: the failure that happens during the outage is delivered once the outage is over.
    """
    name = flow()
    subscribed(app_host, receiver, "dataSourceRefreshFailed", name)
    poll_now(app_host)  # baseline
    ci_sim.control.expire_tokens()  # the host's cached token is refused: it must ask the authority again
    ci_sim.control.add_fault("oauth2/v2.0/token$", 503, times=1000)

    health = app_host.request("GET", "/api/health", key=None)
    assert health.status_code == 503 and health.json()["status"] != "healthy"
    action = app_host.request("GET", f"/api/instances/{INSTANCE}/segments")
    assert action.status_code == 502 and action.json()["code"] == "UpstreamAuthenticationFailed"
    refused = app_host.request("POST", f"/api/instances/{INSTANCE}/triggers/segmentThresholdCrossed/subscriptions",
                               json={"callbackUrl": receiver.callback_url(flow()), "segmentName": "ChurnRisk",
                                     "threshold": 5})
    assert refused.status_code == 502 and refused.json()["code"] == "UpstreamAuthenticationFailed"
    assert len(list_subscriptions(app_host)) == 1

    ci_sim.control.start_refresh("Loyalty")
    ci_sim.control.fail_refresh("Loyalty", "The source storage account refused the connection.")
    poll_now(app_host)  # CI unreachable: nothing detected, state and lease released
    ci_sim.control.clear_faults()
    time.sleep(MSAL_5XX_THROTTLE_SECONDS + 1)  # MSAL answers a 5xx again from its cache for 5 s (real MSAL)
    poll_now(app_host)  # not skipped by a lease left behind
    [note] = receiver.wait_for(name, timeout=30)
    assert note.body["trigger"] == "dataSourceRefreshFailed" and note.body["isTest"] is False
