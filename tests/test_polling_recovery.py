"""Poll cycles run in-process (plain modules, no host) against Azurite and the simulator, while
the local host delivers: a crash between enqueue and state commit loses and repeats nothing,
and the instance allowlist is enforced by the subscription service."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

import pytest

from ciconnector.customer_insights import CustomerInsightsClient
from ciconnector.errors import InvalidInput
from ciconnector.settings import Settings
from ciconnector.storage.queues import QueueSender
from ciconnector.storage.subscriptions import SubscriptionStore
from ciconnector.storage.tables import TableStore
from ciconnector.storage.watch import WatchStore
from ciconnector.webhooks.polling import Poller
from ciconnector.webhooks.subscribing import SubscribeRequest, SubscriptionService
from dev.cisim import SAMPLE_INSTANCE_ID as INSTANCE

pytestmark = pytest.mark.usefixtures("clean_app_state")

LEASE_SECONDS = 120.0


class Crash(Exception):
    """The process dies here."""


class CrashAfterEnqueue(QueueSender):
    """Sends for real, then dies once every message of the cycle is on the queue (before the commit)."""

    def __init__(self, connection_string: str, messages: int):
        super().__init__(connection_string)
        self._left = messages

    def send(self, name: str, message: Mapping[str, Any], *, delay_seconds: float = 0) -> None:
        super().send(name, message, delay_seconds=delay_seconds)
        self._left -= 1
        if self._left == 0:
            raise Crash()


def parts(app_env: dict[str, str]) -> dict[str, Any]:
    settings = Settings.from_environ(app_env)
    tables = TableStore(settings.require_storage())
    return {"settings": settings, "ci": CustomerInsightsClient(settings.ci),
            "subscriptions": SubscriptionStore(tables), "watch": WatchStore(tables)}


def service(p: dict[str, Any], **overrides: Any) -> SubscriptionService:
    settings = p["settings"]
    options = {"instance_allowlist": settings.instance_ids, "allowed_callback_hosts": settings.callback_allowed_hosts,
               **overrides}
    return SubscriptionService(ci=p["ci"], subscriptions=p["subscriptions"], watch=p["watch"],
                               queues=QueueSender(settings.require_storage()), **options)


def subscribe(svc: SubscriptionService, receiver: Any, flow: str, threshold: int) -> None:
    body = f'{{"callbackUrl": "{receiver.callback_url(flow)}", "segmentName": "HighValueCustomers", ' \
           f'"threshold": {threshold}}}'.encode()
    svc.subscribe(SubscribeRequest(INSTANCE, "segmentThresholdCrossed", body, "application/json"))


def test_crash_between_enqueue_and_commit_neither_loses_nor_repeats(app_host, app_env, receiver, ci_sim):
    p = parts(app_env)
    flows = ["crash-a", "crash-b"]
    for flow in flows:
        subscribe(service(p), receiver, flow, threshold=100)
    ci_sim.control.set_segment_count("HighValueCustomers", 10)
    healthy = Poller(ci=p["ci"], subscriptions=p["subscriptions"], watch=p["watch"],
                     queues=QueueSender(p["settings"].require_storage()), lease_seconds=LEASE_SECONDS)
    assert healthy.poll(INSTANCE).committed  # baseline

    ci_sim.control.set_segment_count("HighValueCustomers", 250)
    crashing = Poller(ci=p["ci"], subscriptions=p["subscriptions"], watch=p["watch"],
                      queues=CrashAfterEnqueue(p["settings"].require_storage(), messages=2),
                      lease_seconds=LEASE_SECONDS)
    with pytest.raises(Crash):
        crashing.poll(INSTANCE)

    later = datetime.now(timezone.utc) + timedelta(seconds=LEASE_SECONDS + 1)
    assert healthy.poll(INSTANCE).skipped, "the crashed poller's lease is still live"
    recovered = Poller(ci=p["ci"], subscriptions=p["subscriptions"], watch=p["watch"],
                       queues=QueueSender(p["settings"].require_storage()), lease_seconds=LEASE_SECONDS,
                       clock=lambda: later)
    report = recovered.poll(INSTANCE)
    assert report.committed and report.deliveries == 2  # the same events, enqueued again

    for flow in flows:
        receiver.wait_for(flow)
    time.sleep(3)
    for flow in flows:
        notes = receiver.received(flow)
        assert len(notes) == 1, "the duplicate delivery is dropped by event id"
        assert (notes[0].body["previousValue"], notes[0].body["currentValue"]) == (10, 250)
    assert recovered.poll(INSTANCE).deliveries == 0

    # a later, real crossing is not mistaken for the crashed cycle's duplicate
    ci_sim.control.set_segment_count("HighValueCustomers", 50)
    assert recovered.poll(INSTANCE).deliveries == 0
    ci_sim.control.set_segment_count("HighValueCustomers", 300)
    assert recovered.poll(INSTANCE).deliveries == 2
    for flow in flows:
        [_, second] = receiver.wait_for(flow, count=2)
        assert (second.body["previousValue"], second.body["currentValue"]) == (50, 300)


def test_poll_calls_each_ci_list_once_however_many_subscriptions(app_env, receiver, ci_sim):
    p = parts(app_env)
    svc = service(p)
    for i in range(12):
        subscribe(svc, receiver, f"many-{i}", threshold=100 + i)
    body = f'{{"callbackUrl": "{receiver.callback_url("ds")}"}}'.encode()
    svc.subscribe(SubscribeRequest(INSTANCE, "dataSourceRefreshFailed", body, "application/json"))
    poller = Poller(ci=p["ci"], subscriptions=p["subscriptions"], watch=p["watch"],
                    queues=QueueSender(p["settings"].require_storage()), lease_seconds=LEASE_SECONDS)
    ci_sim.control.reset_request_log()
    report = poller.poll(INSTANCE)
    assert set(report.fetched) == {"segments", "dataSources", "status"}  # status: data source refresh errors
    operations = ci_sim.control.request_log()["operations"]
    assert sum(operations.values()) == 3, operations


def test_instance_allowlist_refuses_other_instances(app_env, receiver):
    p = parts(app_env)
    svc = service(p, instance_allowlist=["11111111-1111-4111-8111-111111111111"])
    body = f'{{"callbackUrl": "{receiver.callback_url("allow")}"}}'.encode()
    with pytest.raises(InvalidInput) as err:
        svc.subscribe(SubscribeRequest(INSTANCE, "dataSourceRefreshFailed", body, "application/json"))
    assert (err.value.code, err.value.field) == ("InstanceNotAllowed", "instanceId")
    assert p["subscriptions"].list_for_instance(INSTANCE) == []
    allowed = service(p, instance_allowlist=[INSTANCE.upper()])
    assert allowed.subscribe(SubscribeRequest(INSTANCE, "dataSourceRefreshFailed", body, "application/json"))


def test_a_slow_poll_renews_its_lease_and_a_lost_lease_stops_the_cycle(app_env, receiver, ci_sim):
    p = parts(app_env)
    subscribe(service(p), receiver, "slow", threshold=100)
    ticks = iter(range(0, 10_000, 70))  # every clock reading is 70 s later: half a 120 s lease is gone

    def clock() -> datetime:
        return datetime.now(timezone.utc) + timedelta(seconds=next(ticks))

    slow = Poller(ci=p["ci"], subscriptions=p["subscriptions"], watch=p["watch"],
                  queues=QueueSender(p["settings"].require_storage()), lease_seconds=LEASE_SECONDS, clock=clock)
    assert slow.poll(INSTANCE).committed

    # a concurrent writer changes the watch row while the poll waits on a slow CI answer
    ci_sim.control.add_fault(r"/manage/segments$", delay_seconds=2, times=1)
    watch = p["watch"]
    intruder = threading.Timer(0.5, lambda: watch.commit(watch.load(INSTANCE), watch.load(INSTANCE).state))
    intruder.start()
    try:
        assert slow.poll(INSTANCE).skipped == "lease lost during the poll"
    finally:
        intruder.join()
