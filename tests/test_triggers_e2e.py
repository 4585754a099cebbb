"""Webhook triggers end to end: subscribe as Power Automate does, script CI in the simulator, run
the timer on the local host, receive the notification at a local HTTPS receiver, unsubscribe.

Everything is real: the local Functions host (subprocess), Azurite, the CI simulator over HTTPS
with MSAL, and the receiver. Polls run either through the timer (the full chain: timer → poll
queue → poll → delivery queue → callback) or by invoking the poll queue function synchronously
through the host's admin endpoint, when a test needs the poll finished before it goes on.
"""
from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from ciconnector.customer_insights import CustomerInsightsClient
from ciconnector.settings import Settings
from dev.cisim import SAMPLE_INSTANCE_ID as INSTANCE

pytestmark = pytest.mark.usefixtures("clean_app_state")


def flow() -> str:
    return f"flow-{uuid.uuid4().hex[:12]}"


def subscribe(host: Any, receiver: Any, kind: str, flow_name: str, **parameters: Any):
    body = {"callbackUrl": receiver.callback_url(flow_name), **parameters}
    return host.request("POST", f"/api/instances/{INSTANCE}/triggers/{kind}/subscriptions", json=body)


def subscribed(host: Any, receiver: Any, kind: str, flow_name: str, **parameters: Any) -> dict:
    response = subscribe(host, receiver, kind, flow_name, **parameters)
    assert response.status_code == 201, response.text
    return {**response.json(), "location": response.headers["Location"]}


def poll_now(host: Any) -> None:
    """Run one poll of the sample instance to completion (the poll queue function, invoked directly)."""
    response = host.invoke("PollInstance", json.dumps({"instanceId": INSTANCE}))
    assert response.status_code < 300, response.text


def run_timer(host: Any) -> None:
    response = host.invoke("SchedulePolls")
    assert response.status_code < 300, response.text


def ci(sim: Any) -> CustomerInsightsClient:
    return CustomerInsightsClient(Settings.from_environ(sim.settings_env()).ci)


def data_source_id(sim: Any, name: str) -> str:
    return next(d.data_source_id for d in ci(sim).list_data_sources(INSTANCE) if d.name == name)


def list_subscriptions(host: Any) -> list[dict]:
    response = host.request("GET", f"/api/instances/{INSTANCE}/subscriptions", key="master")
    assert response.status_code == 200
    return response.json()["value"]


def settle() -> None:
    """Give the host's queue listeners time to drain (maxPollingInterval is 2 s)."""
    time.sleep(3)


# --- subscribe / unsubscribe contract --------------------------------------------------------

def test_subscribe_answers_201_with_absolute_location_and_unsubscribe_is_idempotent(app_host, receiver):
    created = subscribed(app_host, receiver, "dataSourceRefreshFailed", flow())
    location = created["location"]
    assert location == f"{app_host.base_url}/api/instances/{INSTANCE}/subscriptions/{created['subscriptionId']}"
    assert "sig=REDACTED" in created["callbackUrl"]
    listed = list_subscriptions(app_host)
    assert [s["subscriptionId"] for s in listed] == [created["subscriptionId"]]
    assert all("sig=REDACTED" in s["callbackUrl"] for s in listed)
    path = location.removeprefix(app_host.base_url)
    first, again = app_host.request("DELETE", path), app_host.request("DELETE", path)
    unknown = app_host.request("DELETE", f"/api/instances/{INSTANCE}/subscriptions/{uuid.uuid4().hex}")
    assert first.status_code == again.status_code == unknown.status_code == 200
    assert first.json() == again.json() == unknown.json()
    assert list_subscriptions(app_host) == []


def test_admin_endpoints_need_the_master_key(app_host):
    for method, path in [("GET", f"/api/instances/{INSTANCE}/subscriptions"),
                         ("POST", f"/api/instances/{INSTANCE}/subscriptions/{uuid.uuid4().hex}/test"),
                         ("GET", f"/api/instances/{INSTANCE}/deadletters"),
                         ("POST", f"/api/instances/{INSTANCE}/deadletters/x.y/replay")]:
        assert app_host.request(method, path).status_code == 401, path  # the function key is not enough


def test_subscribe_requires_the_function_key(app_host, receiver):
    response = app_host.request("POST", f"/api/instances/{INSTANCE}/triggers/dataSourceRefreshFailed/subscriptions",
                                key=None, json={"callbackUrl": receiver.callback_url(flow())})
    assert response.status_code == 401
    assert list_subscriptions(app_host) == []


def test_send_test_notification(app_host, receiver):
    name = flow()
    created = subscribed(app_host, receiver, "segmentThresholdCrossed", name, segmentName="HighValueCustomers",
                         threshold=10)
    response = app_host.request("POST", created["location"].removeprefix(app_host.base_url) + "/test", key="master")
    assert response.status_code == 202
    [note] = receiver.wait_for(name)
    assert note.body["isTest"] is True and note.body["trigger"] == "segmentThresholdCrossed"
    assert note.headers["webhook-id"] == note.body["eventId"] == response.json()["eventId"]


# --- one end-to-end test per trigger kind ----------------------------------------------------

def test_data_source_refresh_failed(app_host, receiver, ci_sim):
    name, sentinel = flow(), flow()
    loyalty = data_source_id(ci_sim, "Loyalty")
    created = subscribed(app_host, receiver, "dataSourceRefreshFailed", name, dataSourceId=loyalty)
    subscribed(app_host, receiver, "dataSourceRefreshFailed", sentinel)
    poll_now(app_host)  # baseline: what already happened is not an event

    ci_sim.control.start_refresh("Loyalty")
    ci_sim.control.fail_refresh("Loyalty", "The source storage account refused the connection.")
    ci_sim.control.start_refresh("PoS", outcome="succeed")
    run_timer(app_host)
    [note] = receiver.wait_for(name)
    body = note.body
    assert body["trigger"] == "dataSourceRefreshFailed" and body["isTest"] is False
    assert body["subjectId"] == loyalty and body["subjectName"] == "Loyalty program"
    assert body["outcome"] == "failed" and body["status"] == "failed" and body["failedStage"] == "ingestion"
    assert body["errorMessage"] == "The source storage account refused the connection."
    assert body["errorCode"] == body["errors"][0]["errorCode"] == "datasourceIngestionUnexpectedError"
    assert body["errors"][0]["message"] == body["errorMessage"]
    assert note.headers["webhook-id"] == body["eventId"] == note.headers["Idempotency-Key"]
    receiver.wait_for(sentinel)

    poll_now(app_host)
    poll_now(app_host)
    settle()
    assert len(receiver.received(name)) == 1, "repeated polls must not repeat the event"

    assert app_host.request("DELETE", created["location"].removeprefix(app_host.base_url)).status_code == 200
    ci_sim.control.start_refresh("Loyalty", outcome="fail")
    run_timer(app_host)
    receiver.wait_for(sentinel, count=2)
    settle()
    assert len(receiver.received(name)) == 1, "no delivery after unsubscribe"


def test_data_source_refresh_succeeded(app_host, receiver, ci_sim):
    name, sentinel = flow(), flow()
    created = subscribed(app_host, receiver, "dataSourceRefreshSucceeded", name)
    subscribed(app_host, receiver, "dataSourceRefreshSucceeded", sentinel)
    poll_now(app_host)
    ci_sim.control.start_refresh("PoS", outcome="succeed")
    ci_sim.control.start_refresh("Loyalty", outcome="fail")
    run_timer(app_host)
    [note] = receiver.wait_for(name)
    assert note.body["subjectName"] == "Point of sale" and note.body["outcome"] == "succeeded"
    receiver.wait_for(sentinel)
    app_host.request("DELETE", created["location"].removeprefix(app_host.base_url))
    ci_sim.control.start_refresh("eCommerce", outcome="succeed")
    run_timer(app_host)
    receiver.wait_for(sentinel, count=2)
    settle()
    assert len(receiver.received(name)) == 1


def test_segment_threshold_crossed_above(app_host, receiver, ci_sim):
    name, sentinel = flow(), flow()
    ci_sim.control.set_segment_count("HighValueCustomers", 150)
    created = subscribed(app_host, receiver, "segmentThresholdCrossed", name, segmentName="HighValueCustomers",
                         threshold=100)
    subscribed(app_host, receiver, "segmentThresholdCrossed", sentinel, segmentName="HighValueCustomers",
               threshold=100, direction="either")
    poll_now(app_host)  # the baseline is the count at subscribe: already above the threshold is no crossing
    settle()
    assert receiver.received(name) == []

    ci_sim.control.set_segment_count("HighValueCustomers", 80)   # back below: re-arms, no event for "above"
    poll_now(app_host)
    ci_sim.control.set_segment_count("HighValueCustomers", 120)  # crosses above
    run_timer(app_host)
    [note] = receiver.wait_for(name)
    body = note.body
    assert (body["previousValue"], body["currentValue"], body["threshold"]) == (80, 120, 100)
    assert body["crossing"] == "above" and body["direction"] == "above" and body["subjectId"] == "HighValueCustomers"

    ci_sim.control.set_segment_count("HighValueCustomers", 130)  # still above: no new event
    poll_now(app_host)
    receiver.wait_for(sentinel, count=2)  # "either" saw the fall to 80 and the rise to 120
    settle()
    assert len(receiver.received(name)) == 1

    app_host.request("DELETE", created["location"].removeprefix(app_host.base_url))
    ci_sim.control.set_segment_count("HighValueCustomers", 10)
    poll_now(app_host)
    ci_sim.control.set_segment_count("HighValueCustomers", 500)
    run_timer(app_host)
    receiver.wait_for(sentinel, count=4)
    settle()
    assert len(receiver.received(name)) == 1


def test_segment_threshold_below_and_rearm(app_host, receiver, ci_sim):
    name = flow()
    ci_sim.control.set_segment_count("ChurnRisk", 50)
    subscribed(app_host, receiver, "segmentThresholdCrossed", name, segmentName="ChurnRisk", threshold=40,
               direction="below")
    poll_now(app_host)
    for count in (45, 40, 39, 30, 41, 12):
        ci_sim.control.set_segment_count("ChurnRisk", count)
        poll_now(app_host)
    notes = receiver.wait_for(name, count=2)
    settle()
    notes = receiver.received(name)
    # delivery order is not guaranteed (queue)
    assert sorted((n.body["previousValue"], n.body["currentValue"]) for n in notes) == [(40, 39), (41, 12)]
    assert {n.body["crossing"] for n in notes} == {"below"}
    assert len({n.body["eventId"] for n in notes}) == 2


def test_measure_threshold_crossed(app_host, receiver, ci_sim):
    name, sentinel = flow(), flow()
    ci_sim.control.set_measure_value("TotalRevenue", 9000.5)
    created = subscribed(app_host, receiver, "measureThresholdCrossed", name, measureName="TotalRevenue",
                         threshold=10000.25)
    subscribed(app_host, receiver, "measureThresholdCrossed", sentinel, measureName="TotalRevenue",
               threshold=1, direction="below")
    poll_now(app_host)
    ci_sim.control.set_measure_value("TotalRevenue", 12000.75)
    run_timer(app_host)
    [note] = receiver.wait_for(name)
    assert note.body["currentValue"] == 12000.75 and note.body["threshold"] == 10000.25
    assert note.body["subjectType"] == "measure" and note.body["subjectName"] == "Total revenue"
    app_host.request("DELETE", created["location"].removeprefix(app_host.base_url))
    ci_sim.control.set_measure_value("TotalRevenue", 0)
    poll_now(app_host)
    ci_sim.control.set_measure_value("TotalRevenue", 50000)
    run_timer(app_host)
    receiver.wait_for(sentinel)
    settle()
    assert len(receiver.received(name)) == 1


def test_full_scheduled_refresh_completed(app_host, receiver, ci_sim):
    scheduled_only, with_on_demand = flow(), flow()
    created = subscribed(app_host, receiver, "fullRefreshCompleted", scheduled_only)
    subscribed(app_host, receiver, "fullRefreshCompleted", with_on_demand, includeOnDemand=True)
    poll_now(app_host)
    ci_sim.control.run_full_refresh("onDemand")
    poll_now(app_host)
    [manual] = receiver.wait_for(with_on_demand)
    assert manual.body["submissionKind"] == "onDemand" and manual.body["outcome"] == "succeeded"

    ci_sim.control.run_full_refresh("scheduled", fail_task="match", message="Match rules timed out.")
    run_timer(app_host)
    [note] = receiver.wait_for(scheduled_only)
    body = note.body
    assert body["submissionKind"] == "scheduled" and body["outcome"] == "failed"
    summary = body["taskSummary"]
    assert summary["failed"] >= 1 and summary["total"] >= 6
    assert any(t["operationType"] == "match" for t in summary["failedTasks"])
    receiver.wait_for(with_on_demand, count=2)
    settle()
    assert len(receiver.received(scheduled_only)) == 1, "on-demand refreshes are excluded by default"

    app_host.request("DELETE", created["location"].removeprefix(app_host.base_url))
    ci_sim.control.run_full_refresh("scheduled")
    run_timer(app_host)
    receiver.wait_for(with_on_demand, count=3)
    settle()
    assert len(receiver.received(scheduled_only)) == 1


def test_unification_refresh_completed(app_host, receiver, ci_sim):
    name, sentinel = flow(), flow()
    created = subscribed(app_host, receiver, "unificationRefreshCompleted", name)
    subscribed(app_host, receiver, "unificationRefreshCompleted", sentinel)
    poll_now(app_host)
    job = ci_sim.control.run_unification(run="step")
    poll_now(app_host)  # map running: not complete yet
    settle()
    assert receiver.received(name) == []
    ci_sim.control.complete_job(job["jobId"])
    run_timer(app_host)
    [note] = receiver.wait_for(name)
    assert note.body["stages"] == {"map": "successful", "match": "successful", "merge": "successful"}
    assert note.body["jobId"] == job["jobId"].lower()
    receiver.wait_for(sentinel)
    app_host.request("DELETE", created["location"].removeprefix(app_host.base_url))
    ci_sim.control.run_unification(fail_task="merge")
    run_timer(app_host)
    [_, failed] = receiver.wait_for(sentinel, count=2)
    assert failed.body["stages"]["merge"] == "failed" and failed.body["outcome"] == "failed"
    settle()
    assert len(receiver.received(name)) == 1


def test_failed_match_is_a_failed_unification_and_a_refresh_failing_before_it_sends_none(app_host, receiver, ci_sim):
    name = flow()
    subscribed(app_host, receiver, "unificationRefreshCompleted", name)
    poll_now(app_host)
    ci_sim.control.run_unification(fail_task="match", message="Match rules conflict on Email.")
    run_timer(app_host)
    [note] = receiver.wait_for(name)
    assert note.body["outcome"] == "failed" and note.body["failedStage"] == "match"
    assert note.body["stages"] == {"map": "successful", "match": "failed", "merge": "skipped"}
    assert note.body["errorMessage"] == "Match rules conflict on Email."
    ci_sim.control.run_full_refresh(fail_task="ingestion:Loyalty")
    poll_now(app_host)
    settle()
    assert len(receiver.received(name)) == 1, "unification never ran: no unification notification"


# --- failures: CI, receiver, concurrency ------------------------------------------------------

def test_ci_outage_and_throttling_produce_no_event_and_keep_state(app_host, receiver, ci_sim):
    name = flow()
    ci_sim.control.set_segment_count("HighValueCustomers", 50)
    subscribed(app_host, receiver, "segmentThresholdCrossed", name, segmentName="HighValueCustomers", threshold=100)
    poll_now(app_host)  # baseline 50
    ci_sim.control.set_segment_count("HighValueCustomers", 150)
    ci_sim.control.add_fault(r"/manage/segments$", 503, times=20)
    poll_now(app_host)
    ci_sim.control.clear_faults()
    ci_sim.control.add_fault(r"/manage/segments$", 429, retry_after=3600, times=20)
    poll_now(app_host)
    ci_sim.control.clear_faults()
    ci_sim.control.add_fault(r"/manage/segments$", malformed_json=True, times=20)
    poll_now(app_host)
    ci_sim.control.clear_faults()
    settle()
    assert receiver.received(name) == []
    poll_now(app_host)  # CI is back: the crossing from the pre-outage baseline is detected once
    [note] = receiver.wait_for(name)
    assert (note.body["previousValue"], note.body["currentValue"]) == (50, 150)


def test_deleted_segment_does_not_break_other_subscriptions(app_host, receiver, ci_sim):
    gone, alive = flow(), flow()
    subscribed(app_host, receiver, "segmentThresholdCrossed", gone, segmentName="ChurnRisk", threshold=1)
    subscribed(app_host, receiver, "segmentThresholdCrossed", alive, segmentName="HighValueCustomers", threshold=100)
    ci_sim.control.set_segment_count("HighValueCustomers", 10)
    poll_now(app_host)
    ci_sim.control.delete_segment("ChurnRisk")
    ci_sim.control.set_segment_count("HighValueCustomers", 200)
    poll_now(app_host)
    receiver.wait_for(alive)
    assert receiver.received(gone) == []


def test_receiver_down_then_back_is_delivered_later(app_host, receiver, ci_sim):
    name = flow()
    receiver.script(name, [503, 500])
    created = subscribed(app_host, receiver, "segmentThresholdCrossed", name, segmentName="HighValueCustomers",
                         threshold=100)
    app_host.request("POST", created["location"].removeprefix(app_host.base_url) + "/test", key="master")
    notes = receiver.wait_for(name, timeout=30)
    attempts = receiver.received(name)
    assert [n.status for n in attempts] == [503, 500, 202]
    assert len({n.body["eventId"] for n in attempts}) == 1
    assert len({n.headers["webhook-id"] for n in attempts}) == 1
    assert notes[0].received_at - attempts[0].received_at >= 1.5  # waited the schedule (1 s, 1 s)


def test_410_removes_the_subscription(app_host, receiver):
    name = flow()
    receiver.script(name, [410])
    created = subscribed(app_host, receiver, "dataSourceRefreshFailed", name)
    app_host.request("POST", created["location"].removeprefix(app_host.base_url) + "/test", key="master")
    receiver.wait_for(name, accepted=False)
    deadline = time.monotonic() + 15
    while list_subscriptions(app_host) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert list_subscriptions(app_host) == []


def test_repeated_404_disables_then_dead_letter_replays(app_host, receiver):
    name = flow()
    receiver.script(name, [404, 404, 404])
    created = subscribed(app_host, receiver, "dataSourceRefreshFailed", name)
    base = created["location"].removeprefix(app_host.base_url)
    app_host.request("POST", base + "/test", key="master")
    receiver.wait_for(name, count=3, accepted=False, timeout=30)
    letters = wait_for_dead_letters(app_host)
    assert letters[0]["reason"].startswith("callback answered 404")
    [sub] = list_subscriptions(app_host)
    assert sub["enabled"] is False and sub["notFoundCount"] == 3

    replay = app_host.request("POST", f"/api/instances/{INSTANCE}/deadletters/{letters[0]['deadLetterId']}/replay",
                              key="master")
    assert replay.status_code == 202
    receiver.wait_for(name)
    [sub] = list_subscriptions(app_host)
    assert sub["enabled"] is True and sub["notFoundCount"] == 0
    assert dead_letters(app_host) == []


def test_dead_letter_after_the_retry_schedule(app_host, receiver):
    name = flow()
    receiver.script(name, [503] * 10)
    created = subscribed(app_host, receiver, "dataSourceRefreshFailed", name)
    app_host.request("POST", created["location"].removeprefix(app_host.base_url) + "/test", key="master")
    letters = wait_for_dead_letters(app_host, timeout=40)
    assert letters[0]["attempts"] == 4 and "retries exhausted" in letters[0]["reason"]
    assert [n.status for n in receiver.received(name)] == [503] * 4


def dead_letters(host: Any) -> list[dict]:
    response = host.request("GET", f"/api/instances/{INSTANCE}/deadletters", key="master")
    assert response.status_code == 200
    return response.json()["value"]


def wait_for_dead_letters(host: Any, timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        letters = dead_letters(host)
        if letters:
            return letters
        time.sleep(0.5)
    raise TimeoutError("no dead letter")


def test_two_concurrent_pollers_emit_once(app_host, receiver, ci_sim):
    from concurrent.futures import ThreadPoolExecutor

    names = [flow() for _ in range(3)]
    for name in names:
        subscribed(app_host, receiver, "segmentThresholdCrossed", name, segmentName="HighValueCustomers",
                   threshold=100)
    ci_sim.control.set_segment_count("HighValueCustomers", 10)
    poll_now(app_host)
    ci_sim.control.set_segment_count("HighValueCustomers", 300)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: poll_now(app_host), range(4)))
    for name in names:
        receiver.wait_for(name)
    settle()
    assert [len(receiver.received(name)) for name in names] == [1, 1, 1]


def test_logs_never_show_callback_signatures(app_host, receiver):
    """Runs last in this module: nothing the host logged while delivering shows a callback's ``sig``."""
    import re

    name = flow()
    receiver.script(name, [503])
    created = subscribed(app_host, receiver, "dataSourceRefreshFailed", name)
    app_host.request("POST", created["location"].removeprefix(app_host.base_url) + "/test", key="master")
    receiver.wait_for(name)
    logs = app_host.logs()
    assert "DeliverNotification" in logs and "PollInstance" in logs
    assert not re.search(r"sig=(?!REDACTED)[A-Za-z0-9_%-]{6,}", logs)
