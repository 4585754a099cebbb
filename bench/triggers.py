"""Trigger pipeline figures: poll cycle cost by subscription count, delivery throughput, latency."""
from __future__ import annotations

import json
import random
import threading
import time
import uuid
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ciconnector.delivery.message import DeliveryMessage
from ciconnector.delivery.sender import CallbackSender
from ciconnector.services import Services, Stores
from ciconnector.settings import Settings
from ciconnector.storage.queues import QueueSender
from ciconnector.storage.subscriptions import Subscription
from ciconnector.storage.tables import SUBSCRIPTIONS, TableStore
from dev.cisim import SAMPLE_INSTANCE_ID
from dev.funchost.process import start_host_process, stop_host_process

from .platform import ROOT, rate, row

INSTANCES = 10
KINDS: list[tuple[str, dict[str, Any]]] = [
    ("segmentThresholdCrossed", {"segmentName": "HighValueCustomers", "direction": "above"}),
    ("measureThresholdCrossed", {"measureName": "TotalRevenue", "direction": "either"}),
    ("dataSourceRefreshFailed", {}), ("fullRefreshCompleted", {"includeOnDemand": False})]


class Counter:
    """Counts storage transactions through the SDK's ``raw_response_hook``."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, response: Any) -> None:
        with self._lock:
            self.count += 1


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
    print(f"poll cycle, {INSTANCES} instances (all four CI lists needed); per cycle of all instances")
    print(f"  {'subscriptions/instance':<24}{'CI calls':>10}{'table tx (idle)':>18}{'queue tx':>10}"
          f"{'cycle ms':>10}{'ms/instance':>13}")
    stored = 0
    for size in sizes:
        table_tx, queue_tx = Counter(), Counter()
        connection = settings.require_storage()
        stores = replace(Stores.tables(connection, raw_response_hook=table_tx),
                         queues=QueueSender(connection, raw_response_hook=queue_tx))
        tables = TableStore(connection)
        for instance_id in instance_ids:
            _store(tables, _subscriptions(instance_id, size - stored, receiver.callback_url("bench")))
            stores.watch.watch(instance_id)
        stored = size
        poller = Services(settings, stores=stores).poller
        for instance_id in instance_ids:  # baseline cycle
            poller.poll(instance_id)
        simulator.control.reset_request_log()
        table_tx.count = queue_tx.count = 0
        started = time.perf_counter()
        messages = poller.plan()
        for message in messages:
            report = poller.poll(json.loads(message)["instanceId"])
            assert report.committed and report.deliveries == 0, report
        elapsed = (time.perf_counter() - started) * 1000
        ci_calls = simulator.control.request_log()["total"]
        print(f"  {size:<24}{ci_calls:>10}{table_tx.count:>18}{queue_tx.count:>10}{elapsed:>10.0f}"
              f"{elapsed / INSTANCES:>13.1f}", flush=True)


def delivery_throughput(env: dict[str, str], receiver: Any, count: int) -> None:
    settings = Settings.from_environ(env)
    sender = CallbackSender(timeout=10, allowed_hosts=settings.callback_allowed_hosts,
                            ca_bundle=settings.callback_ca_bundle)
    services = Services(settings, sender=sender)
    subs, deliverer = services.stores.subscriptions, services.deliverer
    subscription = Subscription(uuid.uuid4().hex, SAMPLE_INSTANCE_ID, "dataSourceRefreshFailed", {},
                                receiver.callback_url("throughput"), datetime.now(timezone.utc))
    subs.add(subscription)
    payload = {"eventId": "x", "trigger": "dataSourceRefreshFailed", "occurredAt": "2026-01-01T00:00:00Z",
               "instanceId": SAMPLE_INSTANCE_ID, "isTest": False}
    def post_raw(_: int) -> None:
        sender.post(subscription.callback_url, payload, event_id="raw")

    def deliver(_: int) -> None:
        event_id = uuid.uuid4().hex
        outcome = deliverer.deliver(DeliveryMessage(SAMPLE_INSTANCE_ID, subscription.subscription_id, event_id,
                                                    {**payload, "eventId": event_id}))
        assert outcome.status == "delivered", outcome

    print("delivery to the local receiver (same HTTP client)")
    for threads in (1, 8):
        raw = rate(post_raw, count, threads)
        delivered = rate(deliver, count, threads)
        row(f"raw POSTs/s (CallbackSender.post), {threads} thread(s)", raw)
        row(f"deliveries/s (claim, subscription read, POST, record), {threads} thread(s)", delivered)
        row(f"ratio deliveries / raw POSTs, {threads} thread(s)", delivered / raw, "x")


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
