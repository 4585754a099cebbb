"""Trigger-engine situations from a busy tenant, through the local host, Azurite and the simulator.

Each test states the guarantee it attacks.
"""
from __future__ import annotations

import json
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


def test_busy_instance_reports_a_full_refresh_behind_many_newer_jobs(app_host, receiver, ci_sim):
    """Guarantee: an outcome is reported however many jobs follow it before the next poll.

    A scheduled full refresh completes, then 40 data source refreshes run before the next poll: the
    full refresh is no longer among CI's newest 25 jobs. The poll reads the history back to its
    cursor and reports it once.
    """
    name = flow()
    subscribed(app_host, receiver, "fullRefreshCompleted", name)
    poll_now(app_host)
    job = ci_sim.control.run_full_refresh("scheduled")
    for _ in range(40):
        ci_sim.control.start_refresh("PoS", outcome="succeed")
    poll_now(app_host)
    [note] = receiver.wait_for(name, timeout=30)
    assert note.body["jobId"] == job["jobId"] and note.body["outcome"] == "succeeded"
    poll_now(app_host)
    time.sleep(2)
    assert len(receiver.received(name)) == 1


def test_two_refreshes_between_two_polls_are_two_events(app_host, receiver, ci_sim):
    """Guarantee: one event per refresh, each with its own errors, even when the data source list fails.

    A failure then a success of one data source, and a second failure, all between two polls, while
    CI's data source list answers 503: the failures and the success each reach their flows once.
    """
    failed, succeeded = flow(), flow()
    subscribed(app_host, receiver, "dataSourceRefreshFailed", failed)
    subscribed(app_host, receiver, "dataSourceRefreshSucceeded", succeeded)
    poll_now(app_host)
    ci_sim.control.start_refresh("Loyalty", outcome="fail", message="First: the source refused the connection.")
    ci_sim.control.start_refresh("Loyalty", outcome="succeed")
    ci_sim.control.start_refresh("Loyalty", outcome="fail", message="Second: the source timed out.")
    ci_sim.control.add_fault(r"/datasources$", 503, times=20)
    poll_now(app_host)
    failures = receiver.wait_for(failed, count=2, timeout=30)
    [success] = receiver.wait_for(succeeded, timeout=30)
    assert sorted(n.body["errorMessage"] for n in failures) == [
        "First: the source refused the connection.", "Second: the source timed out."]
    assert len({n.body["taskId"] for n in failures} | {success.body["taskId"]}) == 3
    assert success.body["subjectName"] == failures[0].body["subjectName"]
    poll_now(app_host)
    time.sleep(2)
    assert (len(receiver.received(failed)), len(receiver.received(succeeded))) == (2, 1)


def test_watch_row_does_not_grow_with_threshold_subscriptions(app_host, receiver, ci_sim, app_env):
    """Guarantee: state fits Table's limits however many subscriptions (1 MiB per entity).

    Threshold states live in at most 64 shard rows (about 80 characters per subscription each);
    the instance's watch row stays the same size whether 1 or 40 threshold subscriptions watch the
    instance, and every crossing fires once.
    """
    from ciconnector.settings import Settings
    from ciconnector.storage.tables import WATCH_STATE, TableStore

    table = TableStore(Settings.from_environ(app_env).require_storage()).table(WATCH_STATE)

    def watch_row_size() -> int:
        row = table.get_entity(INSTANCE, "0watch")
        return sum(len(str(v)) for k, v in row.items() if k.startswith("State"))

    ci_sim.control.set_segment_count("HighValueCustomers", 10)
    names = [flow() for _ in range(40)]
    subscribed(app_host, receiver, "segmentThresholdCrossed", names[0], segmentName="HighValueCustomers",
               threshold=100)
    poll_now(app_host)
    one = watch_row_size()
    for name in names[1:]:
        subscribed(app_host, receiver, "segmentThresholdCrossed", name, segmentName="HighValueCustomers",
                   threshold=100)
    poll_now(app_host)
    ci_sim.control.set_segment_count("HighValueCustomers", 500)
    poll_now(app_host)
    assert abs(watch_row_size() - one) < 200, (one, watch_row_size())
    rows = list(table.query_entities("PartitionKey eq @pk and RowKey ge '2t:' and RowKey lt '2t;'",
                                     parameters={"pk": INSTANCE}))
    assert 1 < len(rows) <= 64
    assert sum(len(json.loads("".join(r[f"State{i}"] for i in range(r["StateChunks"])))) for r in rows) == 40
    for name in names:
        [note] = receiver.wait_for(name, timeout=30)
        assert (note.body["previousValue"], note.body["currentValue"]) == (10, 500)
