"""Poll cycles run in-process (plain modules, no host) against Azurite and the simulator, while the
local host delivers: a poll killed midway through its commit, two pollers racing, a slow poll's
lease and a crash holding it; the instance allowlist is enforced by the subscription service."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from ciconnector.customer_insights import CustomerInsightsClient
from ciconnector.errors import InvalidInput
from ciconnector.settings import Settings
from ciconnector.storage import watch as watch_module
from ciconnector.storage.queues import QueueSender
from ciconnector.storage.subscriptions import SubscriptionStore
from ciconnector.storage.tables import TableStore
from ciconnector.storage.watch import WatchStore
from ciconnector.webhooks import polling
from ciconnector.webhooks.polling import Poller
from ciconnector.webhooks.subscribing import SubscribeRequest, SubscriptionService
from dev.cisim import SAMPLE_INSTANCE_ID as INSTANCE

pytestmark = pytest.mark.usefixtures("clean_app_state")

LEASE_SECONDS = 90.0


class Crash(Exception):
    """The process dies here."""


class CrashingWatchStore(WatchStore):
    """Dies just before the ``crash_before``-th transaction of a commit (once)."""

    crash_before: int | None = None

    def _before_commit_transaction(self, number: int) -> None:
        if number == self.crash_before:
            self.crash_before = None
            raise Crash()


def parts(app_env: dict[str, str]) -> dict[str, Any]:
    settings = Settings.from_environ(app_env)
    tables = TableStore(settings.require_storage())
    return {"settings": settings, "ci": CustomerInsightsClient(settings.ci),
            "subscriptions": SubscriptionStore(tables), "watch": CrashingWatchStore(tables)}


def service(p: dict[str, Any], **overrides: Any) -> SubscriptionService:
    settings = p["settings"]
    options = {"instance_allowlist": settings.instance_ids, "allowed_callback_hosts": settings.callback_allowed_hosts,
               **overrides}
    return SubscriptionService(ci=p["ci"], subscriptions=p["subscriptions"], watch=p["watch"],
                               queues=QueueSender(settings.require_storage()), **options)


def poller(p: dict[str, Any], **options: Any) -> Poller:
    return Poller(ci=p["ci"], subscriptions=p["subscriptions"], watch=p["watch"],
                  queues=QueueSender(p["settings"].require_storage()), lease_seconds=LEASE_SECONDS, **options)


def subscribe(svc: SubscriptionService, receiver: Any, flow: str, threshold: int) -> None:
    body = f'{{"callbackUrl": "{receiver.callback_url(flow)}", "segmentName": "HighValueCustomers", ' \
           f'"threshold": {threshold}}}'.encode()
    svc.subscribe(SubscribeRequest(INSTANCE, "segmentThresholdCrossed", body, "application/json"))


def test_a_poll_killed_midway_through_its_commit_neither_loses_nor_repeats(app_host, app_env, receiver, ci_sim,
                                                                           monkeypatch):
    # one threshold shard (with its outbox row) per transaction, so six crossings span several
    monkeypatch.setattr(watch_module, "MAX_GROUP_OPERATIONS", 2)
    p = parts(app_env)
    ci_sim.control.set_segment_count("HighValueCustomers", 10)
    flows = [f"crash-{i}" for i in range(6)]
    for flow in flows:
        subscribe(service(p), receiver, flow, threshold=100)
    assert poller(p).poll(INSTANCE).committed  # evaluates the new subscriptions: nothing crossed

    ci_sim.control.set_segment_count("HighValueCustomers", 250)
    p["watch"].crash_before = 2  # the first shard (its subscriptions and their outbox row) is committed
    with pytest.raises(Crash):
        poller(p).poll(INSTANCE)
    [entry] = p["watch"].read(INSTANCE).outbox  # the committed group's notifications wait in the outbox
    committed = len(entry.items)
    assert 0 < committed < len(flows)

    report = poller(p).poll(INSTANCE)  # no lease was taken: the next poll runs at once
    assert report.committed and report.deliveries == len(flows) - committed, "committed ones are not detected again"
    for flow in flows:
        [note] = receiver.wait_for(flow)
        assert (note.body["previousValue"], note.body["currentValue"]) == (10, 250)
    assert p["watch"].read(INSTANCE).outbox == ()
    assert poller(p).poll(INSTANCE).deliveries == 0

    # a later, real crossing is not mistaken for one of the crashed cycle's
    ci_sim.control.set_segment_count("HighValueCustomers", 50)
    assert poller(p).poll(INSTANCE).deliveries == 0
    ci_sim.control.set_segment_count("HighValueCustomers", 300)
    assert poller(p).poll(INSTANCE).deliveries == len(flows)
    for flow in flows:
        [first, second] = receiver.wait_for(flow, count=2)
        assert (second.body["previousValue"], second.body["currentValue"]) == (50, 300)
        assert first.body["eventId"] != second.body["eventId"]


def test_two_pollers_racing_on_one_instance_commit_one_result(app_host, app_env, receiver, ci_sim):
    p = parts(app_env)
    ci_sim.control.set_segment_count("HighValueCustomers", 10)
    subscribe(service(p), receiver, "race", threshold=100)
    assert poller(p).poll(INSTANCE).committed
    ci_sim.control.set_segment_count("HighValueCustomers", 250)
    ci_sim.control.add_fault(r"/manage/segments$", delay_seconds=1.0, times=2)  # both wait on CI together
    reports: list[polling.PollReport] = []
    threads = [threading.Thread(target=lambda: reports.append(poller(p).poll(INSTANCE))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.committed for r in reports) == [False, True], reports
    [note] = receiver.wait_for("race")
    assert note.body["currentValue"] == 250
    assert poller(p).poll(INSTANCE).deliveries == 0
    assert len(receiver.received("race")) == 1


def test_poll_calls_each_ci_list_once_however_many_subscriptions(app_env, receiver, ci_sim):
    p = parts(app_env)
    svc = service(p)
    for i in range(12):
        subscribe(svc, receiver, f"many-{i}", threshold=100 + i)
    body = f'{{"callbackUrl": "{receiver.callback_url("ds")}"}}'.encode()
    svc.subscribe(SubscribeRequest(INSTANCE, "dataSourceRefreshFailed", body, "application/json"))
    ci_sim.control.reset_request_log()
    report = poller(p).poll(INSTANCE)
    assert set(report.fetched) == {"segments", "jobs"}
    operations = ci_sim.control.request_log()["operations"]
    assert sum(operations.values()) == 2, operations


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


def test_a_slow_poll_leases_its_instance_and_releases_the_lease_on_an_error(app_env, receiver, ci_sim):
    p = parts(app_env)
    subscribe(service(p), receiver, "slow", threshold=100)
    body = f'{{"callbackUrl": "{receiver.callback_url("slow-ds")}"}}'.encode()
    service(p).subscribe(SubscribeRequest(INSTANCE, "dataSourceRefreshFailed", body, "application/json"))
    assert poller(p).poll(INSTANCE).committed

    class DiesOnSegments(CustomerInsightsClient):
        def list_segments(self, instance_id: str) -> Any:
            raise Crash()

    seconds = iter(range(0, 10_000, 50))  # every CI call looks 50 s long: the lease is taken after the first
    now = datetime.now(timezone.utc)
    slow = Poller(ci=DiesOnSegments(p["settings"].ci), subscriptions=p["subscriptions"], watch=p["watch"],
                  queues=QueueSender(p["settings"].require_storage()), lease_seconds=LEASE_SECONDS,
                  clock=lambda: now, monotonic=lambda: float(next(seconds)))
    leases: list[Any] = []
    take_lease = p["watch"].take_lease
    p["watch"].take_lease = lambda view, **kw: leases.append(kw) or take_lease(view, **kw)
    with pytest.raises(Crash):
        slow.poll(INSTANCE)
    assert leases == [{"seconds": LEASE_SECONDS, "now": now}], "taken once the poll had run for half the lease"
    assert p["watch"].read(INSTANCE).lease_until is None, "released on its way out"


def test_a_crashed_poll_holding_its_lease_delays_the_instance_until_the_lease_ends(app_env, receiver, ci_sim):
    p = parts(app_env)
    subscribe(service(p), receiver, "held", threshold=100)
    assert poller(p).poll(INSTANCE).committed
    now = datetime.now(timezone.utc)
    view = p["watch"].read(INSTANCE)
    p["watch"].take_lease(view, seconds=LEASE_SECONDS, now=now)  # a poller took it, then its process died
    assert poller(p, clock=lambda: now + timedelta(seconds=LEASE_SECONDS - 1)).poll(INSTANCE).skipped == \
        "another poller holds the lease"
    assert poller(p, clock=lambda: now + timedelta(seconds=LEASE_SECONDS + 1)).poll(INSTANCE).committed
