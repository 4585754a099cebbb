"""Platform baselines: CI simulator requests/s, CI client calls/s, local host HTTP requests/s."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import requests

from ciconnector.customer_insights import CustomerInsightsClient
from ciconnector.settings import Settings
from dev.cisim import SAMPLE_INSTANCE_ID, ApiClient
from dev.funchost.process import start_host_process, stop_host_process

ROOT = Path(__file__).resolve().parent.parent


def rate(call: Callable[[int], Any], count: int, threads: int = 1) -> float:
    """Calls per second of ``call(i)`` run ``count`` times on ``threads`` threads (after a warm-up)."""
    for i in range(min(10, count)):
        call(i)
    started = time.perf_counter()
    if threads == 1:
        for i in range(count):
            call(i)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(call, range(count)))
    return count / (time.perf_counter() - started)


def row(name: str, value: float, unit: str = "/s") -> None:
    print(f"  {name:<58} {value:>10.1f} {unit}", flush=True)


def run(env: dict[str, str], simulator: Any, workdir: Path, *, quick: bool) -> None:
    n = 100 if quick else 600
    print("platform (requests per second; 1 thread and 4 threads)")
    api = ApiClient(simulator.settings_env())
    url = f"{simulator.base_url}/instances/{SAMPLE_INSTANCE_ID}/manage/segments"
    session = requests.Session()
    session.verify, session.trust_env = simulator.ca_path, False
    headers = api.headers()

    def raw(_: int) -> None:
        session.get(url, headers=headers, timeout=10).raise_for_status()

    client = CustomerInsightsClient(Settings.from_environ(simulator.settings_env()).ci)
    raw_1, raw_4 = rate(raw, n), rate(raw, n, threads=4)
    row("simulator: raw GET manage/segments (requests.Session)", raw_1)
    row("simulator: raw GET manage/segments, 4 threads", raw_4)
    client_1, client_4 = rate(lambda _: client.list_segments(SAMPLE_INSTANCE_ID), n), \
        rate(lambda _: client.list_segments(SAMPLE_INSTANCE_ID), n, threads=4)
    row("CI client: list_segments (token cached, parsed to models)", client_1)
    row("CI client: list_segments, 4 threads", client_4)
    row("CI client overhead vs raw (1 thread, ratio client/raw)", client_1 / raw_1, "x")

    process, ready = start_host_process(ROOT, env, timers=False, log=(workdir / "host-platform.log").open("w"))
    try:
        base, key = ready["base_url"], ready["function_key"]
        host = requests.Session()
        health = rate(lambda _: host.get(f"{base}/api/health", timeout=10).raise_for_status(), n)
        health_4 = rate(lambda _: host.get(f"{base}/api/health", timeout=10).raise_for_status(), n, threads=4)
        segments_url = f"{base}/api/instances/{SAMPLE_INSTANCE_ID}/segments"
        action = rate(lambda _: host.get(segments_url, headers={"x-functions-key": key}, timeout=10)
                      .raise_for_status(), n)
        row("local host: GET /api/health (anonymous, cached report)", health)
        row("local host: GET /api/health, 4 threads", health_4)
        row("local host: GET ListSegments action (function key, calls CI)", action)
        row("ListSegments action vs direct client call (ratio)", action / client_1, "x")
    finally:
        stop_host_process(process)
