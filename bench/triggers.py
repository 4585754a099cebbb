"""Trigger pipeline figures: poll cycle cost by subscription count, delivery throughput and Table round
trips per delivery, latency, a cycle where thousands of threshold subscriptions fire, and catching up
after an outage."""
from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from ciconnector.delivery.message import DeliveryMessage, FanoutMessage
from ciconnector.delivery.sender import CallbackSender
from ciconnector.services import Services, Stores
from ciconnector.settings import Settings
from ciconnector.storage.queues import DELIVERY_QUEUE, QueueSender
from ciconnector.storage.subscriptions import Subscription
from ciconnector.storage.tables import SUBSCRIPTIONS, WATCH_STATE, TableStore
from dev.cisim import SAMPLE_INSTANCE_ID
from dev.funchost.process import start_host_process, stop_host_process

from .platform import ROOT, rate, row

INSTANCES = 10
KINDS: list[tuple[str, dict[str, Any]]] = [
    ("segmentThresholdCrossed", {"segmentName": "HighValueCustomers", "direction": "above"}),
    ("measureThresholdCrossed", {"measureName": "TotalRevenue", "direction": "either"}),
    ("dataSourceRefreshFailed", {}), ("fullRefreshCompleted", {"includeOnDemand": False})]
"""Kinds the poll-cycle figures spread subscriptions over: together they need every CI list an idle
poll reads (jobs, segments, measures)."""


class Counter:
    """Counts storage transactions through the SDK's ``raw_response_hook``."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, response: Any) -> None:
        with self._lock:
            self.count += 1


class RecordingQueues(QueueSender):
    """A real ``QueueSender`` that also keeps what it sent (the bench fans the fan-out messages out)."""

    def __init__(self, connection: Any, **client_options: Any):
        super().__init__(connection, **client_options)
        self.sent: list[Mapping[str, Any]] = []

    def send(self, name: str, message: Mapping[str, Any], *, delay_seconds: float = 0) -> None:
        super().send(name, message, delay_seconds=delay_seconds)
        self.sent.append(message)


def count(name: str, value: int, note: str = "") -> None:
    """A row of a whole number (``row`` prints one decimal)."""
    print(f"  {name:<58} {value:>8d}   {note}".rstrip(), flush=True)


def _counted_stores(settings: Settings) -> tuple[Stores, Counter, Counter, RecordingQueues]:
    """Table and Queue stores whose every storage request is counted; the delivery queue exists already
    (so its creation is not counted)."""
    table_tx, queue_tx = Counter(), Counter()
    connection = settings.require_storage()
    queues = RecordingQueues(connection, raw_response_hook=queue_tx)
    queues.queue(DELIVERY_QUEUE)
    return replace(Stores.tables(connection, raw_response_hook=table_tx), queues=queues), table_tx, queue_tx, queues


class _Timed:
    """Times (and counts the table requests of) every call of ``obj.name`` until :meth:`restore`."""

    def __init__(self, obj: Any, name: str, table_tx: Counter):
        self.ms, self.tx = 0.0, 0
        self._obj, self._name = obj, name
        original = getattr(obj, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            before, started = table_tx.count, time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.ms += (time.perf_counter() - started) * 1000
                self.tx += table_tx.count - before

        setattr(obj, name, timed)

    def restore(self) -> None:
        delattr(self._obj, self._name)


def _batch_ms(table: Any, partition: str | None, rounds: int = 5) -> float:
    """Median ms of one transaction of 99 small upserts into ``partition`` (None: a new, empty one each
    time). Row keys ``9probe-…`` lie outside every range the poller reads."""
    times = []
    for _ in range(rounds):
        key = partition or f"bench-probe-{uuid.uuid4().hex}"
        ops = [("upsert", {"PartitionKey": key, "RowKey": f"9probe-{uuid.uuid4().hex}",
                           "State": '{"v":1,"last":1,"n":0}'}) for _ in range(99)]
        started = time.perf_counter()
        table.submit_transaction(ops)
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times)[len(times) // 2]


def _subscriptions(instance_id: str, count: int, callback: str) -> list[Subscription]:
    now = datetime.now(timezone.utc)
    subs = []
    for i in range(count):
        kind, params = KINDS[i % len(KINDS)]
        params = {**params, "instanceId": instance_id}
        if "Threshold" in kind:
            params["threshold"] = 1_000_000 + i
        subs.append(Subscription(uuid.uuid4().hex, instance_id, kind, params, callback, now))
    return subs


def _store(tables: TableStore, subs: list[Subscription]) -> None:
    table = tables.table(SUBSCRIPTIONS)
    for start in range(0, len(subs), 100):
        table.submit_transaction([("create", s.to_entity()) for s in subs[start:start + 100]])


def poll_cycles(env: dict[str, str], simulator: Any, receiver: Any, sizes: list[int]) -> None:
    settings = Settings.from_environ(env)
    instance_ids = [SAMPLE_INSTANCE_ID] + [simulator.control.add_instance(f"Bench {i}", sample=True)["instanceId"]
                                           for i in range(1, INSTANCES)]
    print(f"idle poll cycle, {INSTANCES} instances (kinds needing jobs, segments and measures); "
          "table tx = the plan's one list query + the polls")
    print(f"  {'subscriptions/instance':<24}{'CI calls':>9}{'CI/inst':>9}{'table tx':>10}{'tx/inst':>9}"
          f"{'queue tx':>10}{'cycle ms':>10}{'ms/inst':>9}")
    stored = 0
    for size in sizes:
        stores, table_tx, queue_tx, _ = _counted_stores(settings)
        tables = TableStore(settings.require_storage())
        for instance_id in instance_ids:
            _store(tables, _subscriptions(instance_id, size - stored, receiver.callback_url("bench")))
            stores.watch.watch(instance_id)
        stored = size
        poller = Services(settings, stores=stores).poller
        for instance_id in instance_ids:  # reads the new subscriptions and their threshold baselines
            report = poller.poll(instance_id)
            assert report.committed and report.subscriptions_read and report.deliveries == 0, report
        simulator.control.reset_request_log()
        table_tx.count = queue_tx.count = 0
        started = time.perf_counter()
        messages = poller.plan()
        plan_tx = table_tx.count
        for message in messages:
            report = poller.poll(json.loads(message)["instanceId"])
            assert report.committed and not report.subscriptions_read and report.deliveries == 0, report
        elapsed = (time.perf_counter() - started) * 1000
        assert len(messages) == INSTANCES
        ci_calls = simulator.control.request_log()["total"]
        print(f"  {size:<24}{ci_calls:>9}{ci_calls / len(messages):>9.1f}{table_tx.count:>10}"
              f"{(table_tx.count - plan_tx) / len(messages):>9.1f}{queue_tx.count:>10}{elapsed:>10.0f}"
              f"{elapsed / len(messages):>9.1f}", flush=True)


def delivery_throughput(env: dict[str, str], receiver: Any, count: int) -> None:
    settings = Settings.from_environ(env)
    sender = CallbackSender(timeout=10, allowed_hosts=settings.callback_allowed_hosts,
                            ca_bundle=settings.callback_ca_bundle)
    table_tx = Counter()
    stores = Stores.tables(settings.require_storage(), raw_response_hook=table_tx)
    services = Services(settings, stores=stores, sender=sender)
    subs, deliverer = services.stores.subscriptions, services.deliverer
    subscription = Subscription(uuid.uuid4().hex, SAMPLE_INSTANCE_ID, "dataSourceRefreshFailed", {},
                                receiver.callback_url("throughput"), datetime.now(timezone.utc))
    subs.add(subscription)
    payload = {"eventId": "x", "trigger": "dataSourceRefreshFailed", "occurredAt": "2026-01-01T00:00:00Z",
               "instanceId": SAMPLE_INSTANCE_ID, "isTest": False}
    delivered_count = Counter()

    def post_raw(_: int) -> None:
        sender.post(subscription.callback_url, payload, event_id="raw")

    def deliver(_: int) -> None:
        event_id = uuid.uuid4().hex
        outcome = deliverer.deliver(DeliveryMessage(SAMPLE_INSTANCE_ID, subscription.subscription_id, event_id,
                                                    {**payload, "eventId": event_id},
                                                    callback_url=subscription.callback_url),
                                    message_id=uuid.uuid4().hex)
        assert outcome.status == "delivered", outcome
        delivered_count(None)

    deliver(0)  # opens (creates) the Deliveries table: not counted
    print("delivery to the local receiver (same HTTP client; a poller's message carrying the callback URL)")
    for threads in (1, 8):
        raw = rate(post_raw, count, threads)
        table_tx.count = delivered_count.count = 0
        delivered = rate(deliver, count, threads)
        row(f"raw POSTs/s (CallbackSender.post), {threads} thread(s)", raw)
        row(f"deliveries/s (claim, POST), {threads} thread(s)", delivered)
        row(f"ratio deliveries / raw POSTs, {threads} thread(s)", delivered / raw, "x")
        row(f"Table round trips per delivery, {threads} thread(s)", table_tx.count / delivered_count.count, "")


def firing_cycle(env: dict[str, str], simulator: Any, receiver: Any, size: int) -> None:
    """One poll cycle of one instance where ``size`` segment threshold subscriptions all fire."""
    settings = Settings.from_environ(env)
    control = simulator.control
    instance_id = control.add_instance("Bench firing", sample=True)["instanceId"]
    segment = "HighValueCustomers"
    control.set_segment_count(segment, 0, instance_id=instance_id)
    stores, table_tx, queue_tx, queues = _counted_stores(settings)
    now = datetime.now(timezone.utc)
    callback = receiver.callback_url("firing")
    subs = [Subscription(uuid.uuid4().hex, instance_id, "segmentThresholdCrossed",
                         {"instanceId": instance_id, "segmentName": segment, "threshold": i + 1, "direction": "above"},
                         callback, now) for i in range(size)]
    _store(TableStore(settings.require_storage()), subs)
    stores.watch.watch(instance_id)
    poller = Services(settings, stores=stores).poller
    started = time.perf_counter()
    table_tx.count = 0
    report = poller.poll(instance_id)  # baseline: every subscription's first observation (0), none fires
    baseline_ms, baseline_tx = (time.perf_counter() - started) * 1000, table_tx.count
    assert report.committed and report.deliveries == 0, report

    control.set_segment_count(segment, 10 * size, instance_id=instance_id)  # above every threshold
    control.reset_request_log()
    commit = _Timed(stores.watch, "commit", table_tx)
    table_tx.count = queue_tx.count = 0
    queues.sent.clear()
    started = time.perf_counter()
    report = poller.poll(instance_id)
    elapsed = (time.perf_counter() - started) * 1000
    commit.restore()
    assert report.committed and report.deliveries == size, report
    fanouts = [m for m in queues.sent if m.get("fanout")]
    assert len(fanouts) == len(queues.sent) == queue_tx.count
    print(f"one instance, {size} segment threshold subscriptions, all crossing in one cycle "
          "(commit with outbox and fan-out sends included)")
    row(f"baseline cycle (first observation of {len(subs)}): ms", baseline_ms, "ms")
    count("baseline cycle: table tx", baseline_tx)
    count("firing cycle: deliveries reported", report.deliveries)
    row("firing cycle: ms", elapsed, "ms")
    row("firing cycle: ms per firing subscription", elapsed / size, "ms")
    count("firing cycle: CI calls", control.request_log()["total"])
    count("firing cycle: table tx", table_tx.count)
    count("firing cycle: queue tx (fan-out messages)", queue_tx.count)
    row(f"  of which the commit ({commit.tx} table tx): ms", commit.ms, "ms")
    row("  the rest (reads, detection, sends): ms per firing sub", (elapsed - commit.ms) / size, "ms")

    control.set_segment_count(segment, 10 * size + 1, instance_id=instance_id)  # moves, crosses nothing
    table_tx.count = 0
    started = time.perf_counter()
    report = poller.poll(instance_id)
    moved_ms = (time.perf_counter() - started) * 1000
    assert report.committed and report.deliveries == 0, report
    row("next cycle, the count moves but crosses nothing: ms", moved_ms, "ms")
    count("  its table tx (every threshold shard rewritten)", table_tx.count)

    table = TableStore(settings.require_storage()).table(WATCH_STATE)
    rows = sum(1 for _ in table.query_entities("PartitionKey eq @pk", parameters={"pk": instance_id},
                                               select=["RowKey"]))
    row("Azurite: one 99-row tx, empty partition: ms", _batch_ms(table, None), "ms")
    row(f"Azurite: one 99-row tx, this partition ({rows} rows): ms", _batch_ms(table, instance_id), "ms")

    # delivery side: each fan-out message becomes one delivery message per recipient (Deliverer.fan_out)
    fan_tx = Counter()
    fan_queues = QueueSender(settings.require_storage(), raw_response_hook=fan_tx)
    fan_queues.queue(DELIVERY_QUEUE)
    fan_tx.count = 0
    deliverer = Services(settings, stores=replace(stores, queues=fan_queues)).deliverer
    messages = [FanoutMessage.from_dict(m) for m in fanouts]
    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        made = sum(pool.map(deliverer.fan_out, messages))
    fan_ms = (time.perf_counter() - started) * 1000
    assert made == size == fan_tx.count, (made, fan_tx.count)
    print("  fan-out on the delivery side (Deliverer.fan_out, 8 threads; in production spread over the "
          "delivery function's instances)")
    row(f"{len(messages)} fan-out messages → {made} delivery messages: ms", fan_ms, "ms")
    row("ms per delivery message queued", fan_ms / made, "ms")
    fan_queues.queue(DELIVERY_QUEUE).clear_messages()


def catch_up(env: dict[str, str], simulator: Any, receiver: Any, jobs: int) -> None:
    """About 20 subscriptions; CI unreachable (one failed poll) while ``jobs`` jobs complete; one poll."""
    settings = Settings.from_environ(env)
    control = simulator.control
    instance_id = control.add_instance("Bench outage", sample=True)["instanceId"]
    stores, table_tx, queue_tx, queues = _counted_stores(settings)
    now = datetime.now(timezone.utc)
    callback = receiver.callback_url("outage")
    plan = {"dataSourceRefreshFailed": ({}, 7), "fullRefreshCompleted": ({"includeOnDemand": False}, 7),
            "unificationRefreshCompleted": ({}, 6)}
    subs = [Subscription(uuid.uuid4().hex, instance_id, kind, {**params, "instanceId": instance_id}, callback, now)
            for kind, (params, n) in plan.items() for _ in range(n)]
    _store(TableStore(settings.require_storage()), subs)
    stores.watch.watch(instance_id)
    poller = Services(settings, stores=stores).poller
    report = poller.poll(instance_id)  # before the outage: the cursor is set, older jobs are not news
    assert report.committed and report.deliveries == 0, report

    failed_refreshes = full_refreshes = unifications = 0
    sources = ["eCommerce", "Loyalty", "PoS"]

    def run_jobs(numbers: range) -> None:
        nonlocal failed_refreshes, full_refreshes, unifications
        for i in numbers:
            if i % 3 != 2:  # a data source refresh, every other one failing
                job = control.start_refresh(sources[i % 3], "fail" if (i // 3) % 2 == 0 else "succeed",
                                            instance_id=instance_id)
            else:  # a scheduled full refresh, every fourth failing at an ingestion task
                job = control.run_full_refresh("scheduled", fail_task="ingestion:Loyalty" if (i // 3) % 4 == 0
                                               else None, instance_id=instance_id)
                full_refreshes += 1
                steps = [t for t in job["tasks"] if t["operationType"] in ("map", "match", "merge")]
                unifications += any(t["taskStatus"] != "skipped" for t in steps)
            failed_refreshes += sum(t["operationType"] == "ingestion" and t["taskStatus"] == "failed"
                                    for t in job["tasks"])

    run_jobs(range(jobs // 2))
    control.add_fault(rf"/instances/{instance_id}/.*/jobs$", 503, method="GET", retry_after=0, times=20)
    polling_log = logging.getLogger("ciconnector.webhooks.polling")
    level = polling_log.level
    polling_log.setLevel(logging.ERROR)  # the expected "could not fetch jobs" warning
    try:
        report = poller.poll(instance_id)  # CI's job history unreachable: the cursor stays
    finally:
        polling_log.setLevel(level)
    control.clear_faults()
    assert report.committed and "jobs" in report.failed and report.deliveries == 0, report
    run_jobs(range(jobs // 2, jobs))
    expected = 7 * failed_refreshes + 7 * full_refreshes + 6 * unifications

    control.reset_request_log()
    table_tx.count = queue_tx.count = 0
    queues.sent.clear()
    started = time.perf_counter()
    report = poller.poll(instance_id)
    elapsed = (time.perf_counter() - started) * 1000
    log = control.request_log()
    events = {e["eventId"] for m in queues.sent for e in m["events"]}
    recipients = sum(len(e["recipients"]) for m in queues.sent for e in m["events"])
    assert report.committed and not report.failed, report
    print(f"catching up after an outage: {len(subs)} subscriptions (7 data source refresh failed, 7 full refresh, "
          f"6 unification), {jobs} jobs completed while CI was unreachable")
    count("jobs: data source refreshes", jobs - full_refreshes, f"full refreshes: {full_refreshes}")
    calls = ", ".join(f"{call.rsplit('/', 1)[-1]} {n}" for call, n in sorted(log["calls"].items()))
    count("catch-up poll: CI calls", log["total"], calls)
    count("catch-up poll: table tx", table_tx.count)
    count("catch-up poll: queue tx (fan-out messages)", queue_tx.count)
    row("catch-up poll: ms", elapsed, "ms")
    count("catch-up poll: events found", len(events))
    count("catch-up poll: deliveries", report.deliveries, f"expected {expected}")
    assert report.deliveries == recipients == expected, (report.deliveries, recipients, expected)
    assert len(events) == failed_refreshes + full_refreshes + unifications, len(events)

    control.reset_request_log()
    table_tx.count = 0
    started = time.perf_counter()
    report = poller.poll(instance_id)
    elapsed = (time.perf_counter() - started) * 1000
    assert report.committed and report.deliveries == 0, report
    count("next poll (nothing new): CI calls", control.request_log()["total"])
    count("next poll (nothing new): table tx", table_tx.count)
    row("next poll (nothing new): ms", elapsed, "ms")
    queues.queue(DELIVERY_QUEUE).clear_messages()

def latency(env: dict[str, str], simulator: Any, receiver: Any, workdir: Path, samples: int, interval: int) -> None:
    """Event-to-callback latency through the real host with a fast poll timer."""
    process, ready = start_host_process(ROOT, {**env, "POLL_SCHEDULE": f"*/{interval} * * * * *"}, timers=True,
                                        log=(workdir / "host-latency.log").open("w"))
    try:
        import requests
        base, key = ready["base_url"], ready["function_key"]
        flow = "latency"
        body = {"callbackUrl": receiver.callback_url(flow), "segmentName": "ChurnRisk", "threshold": 500,
                "direction": "either"}
        r = requests.post(f"{base}/api/instances/{SAMPLE_INSTANCE_ID}/triggers/segmentThresholdCrossed/subscriptions",
                          json=body, headers={"x-functions-key": key}, timeout=30)
        r.raise_for_status()
        simulator.control.set_segment_count("ChurnRisk", 100)
        time.sleep(interval * 2.5)  # baseline observed
        latencies = []
        for i in range(samples):
            time.sleep(random.uniform(0, interval))
            simulator.control.set_segment_count("ChurnRisk", 1000 if i % 2 == 0 else 100)
            changed = time.monotonic()
            note = receiver.wait_for(flow, count=i + 1, timeout=interval * 10)[-1]
            latencies.append(note.received_at - changed)
        latencies.sort()
        mean = sum(latencies) / len(latencies)
        print(f"event-to-callback latency via the local host, poll every {interval} s, {samples} events")
        row("mean latency", mean, "s")
        row("mean latency / poll interval", mean / interval, "x")
        row("p90 latency / poll interval", latencies[int(len(latencies) * 0.9) - 1] / interval, "x")
    finally:
        stop_host_process(process)


def run(env: dict[str, str], simulator: Any, receiver: Any, workdir: Path, *, quick: bool) -> None:
    poll_cycles(env, simulator, receiver, [10, 100] if quick else [10, 100, 1000])
    delivery_throughput(env, receiver, 50 if quick else 300)
    latency(env, simulator, receiver, workdir, samples=4 if quick else 12, interval=5)
    firing_cycle(env, simulator, receiver, 500 if quick else 5000)
    catch_up(env, simulator, receiver, 60 if quick else 300)
