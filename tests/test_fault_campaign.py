"""A seeded fault campaign against the trigger engine's promise: every outcome CI's own records show
after a subscription was created reaches that subscription's flow exactly once (by event id), and
nothing else does, through crashed pollers and deliverers, CI faults and outages, token endpoint
failures, racing pollers and subscribes racing polls.

Real parts: Azurite Table stores, the real CI client (MSAL, HTTPS, low retry budget) against the
simulator, the real ``Poller`` / ``Deliverer`` / ``SubscriptionService`` built by ``Services``.
Emulated: the delivery queue (``MemoryQueues``; a message whose handler died comes back with the same
message id, as Queue Storage makes it visible again) and the flows (a recording sender answering 202,
sometimes 503).

Each cycle does a random mix (``FAULT_SEED``; ``FAULT_CYCLES`` cycles) of CI activity, subscribes
and unsubscribes (some while a poll runs), CI faults for the next poll, one poll (or two racing, or
one killed at a random point, or one that looks slow and leases the instance) and deliveries (some
killed at a random point, some duplicated). At the end everything is settled, and what the flows got
is compared with the outcomes computed here from the simulator's own job records, independently of
``ciconnector.trigger_kinds``. The figures go to the terminal and to ``.dev/fault-campaign.txt``.
"""
from __future__ import annotations

import itertools
import json
import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import pytest
from azure.core.exceptions import ResourceNotFoundError

from ciconnector.customer_insights import CustomerInsightsClient, CustomerInsightsError
from ciconnector.delivery.message import DeliveryMessage, FanoutMessage, parse_message
from ciconnector.delivery.sender import CallbackAnswer
from ciconnector.services import LEASE_INTERVALS, Services, Stores
from ciconnector.settings import Settings
from ciconnector.storage import clients
from ciconnector.storage import watch as watch_module
from ciconnector.storage.connection import resolve
from ciconnector.storage.deliveries import DeliveryNotFoundError, DeliveryRecord, DeliveryStore, EventSummary
from ciconnector.storage.memory import MemoryQueues, QueuedMessage
from ciconnector.storage.queues import DELIVERY_QUEUE
from ciconnector.storage.tables import DEAD_LETTERS, SUBSCRIPTIONS, WATCH_STATE, TableStore
from ciconnector.storage.watch import Op, StoredRow, WatchStore
from ciconnector.webhooks.polling import Poller, PollReport
from ciconnector.webhooks.subscribing import SubscribeRequest
from dev.cisim import SAMPLE_INSTANCE_ID as INSTANCE
from dev.cisim import ApiClient, SimulatorControlError

SEED = int(os.environ.get("FAULT_SEED", "20261125"))
CYCLES = int(os.environ.get("FAULT_CYCLES", "300"))
REPORT = Path(__file__).resolve().parents[1] / ".dev" / "fault-campaign.txt"

CALLBACK_HOST = "flow.example.com"
CI_TIMEOUT_SECONDS = 0.6
SLOW_CI_SECONDS = CI_TIMEOUT_SECONDS + 0.3
"""A CI answer this late times the client out."""
MAX_JOBS = 800
"""CI jobs the campaign makes at most: a poll reads at most 1000 jobs back (beyond, it records a gap,
a documented limit), and every job of the campaign is younger than the poller's 5-minute margin."""
SLACK = timedelta(milliseconds=50)

KINDS = ("dataSourceRefreshFailed", "dataSourceRefreshSucceeded", "fullRefreshCompleted",
         "unificationRefreshCompleted")
TERMINAL = frozenset({"failed", "timedOut", "aborted", "deleted", "successful", "skipped"})
REFRESH_OUTCOMES = {"successful": "succeeded", "failed": "failed", "timedOut": "failed", "aborted": "cancelled",
                    "deleted": "cancelled"}
JOBS_PATH = r"/workflows/main/jobs$"
DATA_SOURCES_PATH = r"/manage/datasources$"
TOKEN_PATH = r"/oauth2/v2\.0/token$"

POLL_KILLS = ("ci-before", "ci-after", "commit", "send", "dispatched")
DELIVERY_KILLS = ("claim-before", "claim-after", "post-after", "queue-send")


def now() -> datetime:
    return datetime.now(timezone.utc)


def moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


# -- processes that die ------------------------------------------------------------------------------------------

class Crash(BaseException):
    """The process running this dies here: nothing after it runs, not even its cleanup."""


class Kill:
    """Where one poller or deliverer process dies: at the ``at``-th pass of ``point``. Once dead,
    whatever it still tries fails as well (its process is gone)."""

    def __init__(self, point: str | None = None, at: int = 1) -> None:
        self.point, self.at, self.seen, self.dead = point, at, 0, False

    def check(self, point: str) -> None:
        self.alive()
        if point == self.point:
            self.seen += 1
            if self.seen >= self.at:
                self.dead = True
                raise Crash(point)

    def alive(self) -> None:
        if self.dead:
            raise Crash("dead")


class Holder:
    """The deliverer's current kill (swapped per message)."""

    kill = Kill()


class PollCI:
    """One poller's CI client (a real one), with its process's kill points and what happens
    meanwhile (subscribes, CI activity) before a chosen call."""

    def __init__(self, client: CustomerInsightsClient, kill: Kill, hooks: dict[int, Callable[[], None]]):
        self.client, self.kill, self.hooks, self.calls = client, kill, hooks, 0

    def _call(self, fetch: Callable[[], Any]) -> Any:
        self.calls += 1
        hook = self.hooks.pop(self.calls, None)
        if hook is not None:
            hook()
        self.kill.check("ci-before")
        result = fetch()
        self.kill.check("ci-after")
        return result

    def list_jobs(self, instance_id: str, *, top: int | None = None, include_tasks: bool = False) -> Any:
        return self._call(lambda: self.client.list_jobs(instance_id, top=top, include_tasks=include_tasks))

    def list_data_sources(self, instance_id: str) -> Any:
        return self._call(lambda: self.client.list_data_sources(instance_id))

    def list_segments(self, instance_id: str) -> Any:
        return self._call(lambda: self.client.list_segments(instance_id))

    def list_measures(self, instance_id: str) -> Any:
        return self._call(lambda: self.client.list_measures(instance_id))


class PollWatch(WatchStore):
    """The watch store as one poller process uses it: dies before its ``at``-th commit transaction
    or before deleting dispatched outbox rows."""

    def __init__(self, tables: TableStore, kill: Kill):
        super().__init__(tables)
        self.kill = kill

    def _before_commit_transaction(self, number: int) -> None:
        self.kill.check("commit")

    def dispatched(self, instance_id: str, keys: Sequence[str]) -> None:
        self.kill.check("dispatched")
        super().dispatched(instance_id, keys)

    def _transact(self, instance_id: str, ops: Sequence[Op]) -> list[str]:
        self.kill.alive()
        return super()._transact(instance_id, ops)

    def _query(self, instance_id: str, low: str, high: str) -> list[StoredRow]:
        self.kill.alive()
        return super()._query(instance_id, low, high)

    def _get(self, instance_id: str, row_key: str) -> StoredRow | None:
        self.kill.alive()
        return super()._get(instance_id, row_key)


class KillQueue(MemoryQueues):
    """The shared in-memory queue as one process sends to it (dies before its ``at``-th send)."""

    def __init__(self, target: MemoryQueues, kill: Callable[[], Kill], point: str) -> None:
        self._target, self._kill, self._point = target, kill, point

    def send(self, name: str, message: Any, *, delay_seconds: float = 0) -> None:
        self._kill().check(self._point)
        self._target.send(name, message, delay_seconds=delay_seconds)


class KillDeliveries(DeliveryStore):
    """The delivery claims as the deliverer process uses them: dies before or after its claim."""

    def __init__(self, tables: TableStore, holder: Holder):
        super().__init__(tables)
        self._holder = holder

    def claim(self, subscription_id: str, event_id: str, instance_id: str, *, attempt: int, message_id: str,
              about: EventSummary | None = None) -> DeliveryRecord:
        self._holder.kill.check("claim-before")
        record = super().claim(subscription_id, event_id, instance_id, attempt=attempt, message_id=message_id,
                               about=about)
        self._holder.kill.check("claim-after")
        return record

    def _write(self, record: DeliveryRecord) -> DeliveryRecord:
        self._holder.kill.alive()
        return super()._write(record)


@dataclass(frozen=True)
class Post:
    subscription_id: str
    event_id: str
    notification: dict[str, Any]
    status: int


class Flows:
    """Every flow's callback: records each POST, answers 202 or (at ``fail_rate``) 503; a deliverer
    killed right after the POST is the classic send window (the flow got it; the message comes back)."""

    def __init__(self, holder: Holder, rng: random.Random):
        self.holder, self.rng = holder, rng
        self.by_url: dict[str, str] = {}
        self.posts: list[Post] = []
        self.window: Counter[tuple[str, str]] = Counter()
        self.fail_rate = 0.12

    def post(self, url: str, notification: Any, *, event_id: str) -> CallbackAnswer:
        self.holder.kill.alive()
        status = 503 if self.rng.random() < self.fail_rate else 202
        post = Post(self.by_url[url], event_id, dict(notification), status)
        self.posts.append(post)
        if self.holder.kill.point == "post-after" and status == 202:
            self.window[(post.subscription_id, event_id)] += 1
        self.holder.kill.check("post-after")
        return CallbackAnswer(status)


# -- what the campaign records ---------------------------------------------------------------------------------

@dataclass
class Sub:
    subscription_id: str
    kind: str
    parameters: dict[str, Any]
    created_at: datetime
    removed: tuple[datetime, datetime] | None = None
    removing: bool = False


@dataclass(frozen=True)
class PollRun:
    start: datetime
    end: datetime
    clean: bool


@dataclass(frozen=True)
class Outcome:
    """One outcome as computed here from the simulator's records."""

    family: str  # refresh | full | unification
    key: str  # the task id (refresh) or job id
    result: str | None
    completed: datetime
    data_source: tuple[str, str] | None = None  # (id, name)
    submission_kind: str | None = None


@dataclass
class Figures:
    polls: int = 0
    racing_pairs: int = 0
    slow_polls: int = 0
    lease_waits: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    killed_pollers: Counter[str] = field(default_factory=Counter)
    killed_deliverers: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    mid_poll: Counter[str] = field(default_factory=Counter)
    subscribe_failures: int = 0
    duplicate_copies: int = 0
    bursts: int = 0
    final_polls: int = 0


# -- the campaign ------------------------------------------------------------------------------------------------

class Campaign:
    def __init__(self, app_env: dict[str, str], control: Any, rng: random.Random):
        env = {**app_env, "CALLBACK_ALLOWED_HOSTS": f"{CALLBACK_HOST}:443", "DELIVERY_RETRY_SCHEDULE": "0,0,0,0,0,0",
               "CI_MAX_ATTEMPTS": "2", "CI_MAX_RETRY_WAIT_SECONDS": "0.05",
               "CI_TIMEOUT_SECONDS": str(CI_TIMEOUT_SECONDS)}
        self.settings = Settings.from_environ(env)
        self.control, self.rng = control, rng
        connection = self.settings.require_storage()
        self.tables = TableStore(connection)
        self.queues = MemoryQueues()
        self.stores = replace(Stores.tables(connection), queues=self.queues)
        self.api = ApiClient(app_env)
        self.lease_seconds = LEASE_INTERVALS * self.settings.poll_interval_seconds
        self.clock_offset = timedelta()
        # two poller hosts (each with its CI client and token cache), one for subscribe calls
        self.hosts = [CustomerInsightsClient(self.settings.ci) for _ in range(2)]
        self.subscribing = Services(self.settings, stores=self.stores, ci=CustomerInsightsClient(self.settings.ci),
                                    clock=now).subscription_service
        self.holder = Holder()
        self.flows = Flows(self.holder, rng)
        delivery_stores = replace(self.stores, deliveries=KillDeliveries(self.tables, self.holder),
                                  queues=KillQueue(self.queues, lambda: self.holder.kill, "queue-send"))
        self.deliverer = Services(self.settings, stores=delivery_stores, sender=self.flows, clock=now).deliverer
        self.subs: list[Sub] = []
        self.polls: list[PollRun] = []
        self.running: list[str] = []  # job ids left running
        self.jobs_made = 0
        self.urls = itertools.count(1)
        self.figures = Figures()
        self.data_sources = [(d["dataSourceMetadata"]["dataSourceId"], d["dataSourceMetadata"]["name"])
                             for d in self.api_get(f"/instances/{INSTANCE}/manage/datasources")]

    def poll_clock(self) -> datetime:
        return now() + self.clock_offset

    def api_get(self, path: str, **params: Any) -> Any:
        for _ in range(3):
            response = self.api.get(path, params=params)
            if response.status_code == 401:  # the campaign expired every token
                self.api.fetch_token()
                continue
            response.raise_for_status()
            return response.json()
        raise AssertionError(f"GET {path} kept failing")

    def api_post(self, path: str, **params: Any) -> Any:
        for _ in range(3):
            response = self.api.post(path, params=params)
            if response.status_code == 401:
                self.api.fetch_token()
                continue
            response.raise_for_status()
            return response.json()
        raise AssertionError(f"POST {path} kept failing")

    # -- CI activity ---------------------------------------------------------------------------------------------

    def ci_activity(self) -> None:
        for _ in range(self.rng.choice((0, 1, 1, 1, 2, 2, 3))):
            self.ci_action(self.rng.choices(("refresh", "full", "unification", "advance", "burst"),
                                            (40, 12, 12, 30, 3))[0])()

    def ci_action(self, what: str) -> Callable[[], None]:
        """One CI action, drawn now (so it can run later, in another thread)."""
        rng, control = self.rng, self.control
        if what != "advance" and self.jobs_made >= MAX_JOBS:
            return lambda: None
        if what == "refresh":
            _, name = rng.choice(self.data_sources)
            outcome = rng.choice(("succeed", "succeed", "fail", "cancel", None))

            def refresh() -> None:
                try:
                    job = control.start_refresh(name, outcome)
                except SimulatorControlError as exc:  # a refresh of it is already running
                    assert exc.status == 409, exc
                    return
                self.made(job)
            return refresh
        if what in ("full", "unification"):
            kind = rng.choice(("scheduled", "onDemand"))
            run = rng.choice(("all", "all", "step"))
            fail_task = rng.choice([None, None, None, "match", "merge", "segmentation"]
                                   + ([f"ingestion:{rng.choice(self.data_sources)[1]}"] if what == "full" else []))
            if what == "full":
                return lambda: self.made(control.run_full_refresh(kind, run, fail_task))
            return lambda: self.made(control.run_unification(run, fail_task if fail_task != "segmentation" else None,
                                                             submission_kind=kind))
        if what == "advance":
            if not self.running:
                return lambda: None
            job_id = rng.choice(self.running)
            step = rng.choice(("advance", "advance", "fail", "complete", "complete", "cancel"))

            def advance() -> None:
                if job_id not in self.running:
                    return
                if step == "cancel":
                    job = control.cancel_job(job_id)
                elif step == "complete":
                    job = control.complete_job(job_id)
                else:
                    try:
                        job = control.advance_job(job_id, fail=step == "fail")
                    except SimulatorControlError as exc:  # finished meanwhile
                        assert exc.status == 409, exc
                        job = {"jobId": job_id, "jobStatus": "successful"}
                if job["jobStatus"] in TERMINAL and job_id in self.running:
                    self.running.remove(job_id)
            return advance
        assert what == "burst"
        count = rng.randint(20, 60)
        operation = rng.choice(("segmentation", "measures", "export"))

        def burst() -> None:  # more jobs than a poll's first read asks for
            if self.jobs_made + count > MAX_JOBS:
                return
            self.figures.bursts += 1
            for _ in range(count):
                job = self.api_post(f"/instances/{INSTANCE}/manage/workflows/main/jobs", operationType=operation)
                self.jobs_made += 1
                control.complete_job(job["jobId"])
        return burst

    def made(self, job: dict[str, Any]) -> None:
        self.jobs_made += 1
        if job["jobStatus"] not in TERMINAL:
            self.running.append(job["jobId"])

    # -- subscriptions -------------------------------------------------------------------------------------------

    def subscribe_action(self) -> Callable[[], None]:
        kind = self.rng.choice(KINDS)
        parameters: dict[str, Any] = {}
        if kind.startswith("dataSource"):
            ds_id, name = self.rng.choice(self.data_sources)
            form = self.rng.choice(("any", "any", "id", "name"))
            if form == "id":
                parameters["dataSourceId"] = ds_id
            elif form == "name":
                parameters["dataSourceId"] = self.rng.choice((name, name.upper(), name.lower()))
        if kind == "fullRefreshCompleted":
            parameters["includeOnDemand"] = self.rng.random() < 0.5
        n = next(self.urls)
        url = f"https://{CALLBACK_HOST}/workflows/f{n}/triggers/manual/paths/invoke?sig=secret{n}"

        def subscribe() -> None:
            body = json.dumps({"callbackUrl": url, **parameters}).encode()
            try:
                made = self.subscribing.subscribe(SubscribeRequest(INSTANCE, kind, body, "application/json"))
            except CustomerInsightsError:  # CI failed the resource check: nothing was stored
                self.figures.subscribe_failures += 1
                return
            stored = self.stores.subscriptions.get(INSTANCE, made.subscription_id)
            self.flows.by_url[url] = made.subscription_id
            self.subs.append(Sub(made.subscription_id, kind, parameters, stored.created_at))
        return subscribe

    def unsubscribe_action(self) -> Callable[[], None]:
        candidates = [s for s in self.subs if s.removed is None and not s.removing]
        if not candidates:
            return lambda: None
        sub = self.rng.choice(candidates)
        sub.removing = True

        def unsubscribe() -> None:
            start = now()
            self.subscribing.unsubscribe(INSTANCE, sub.subscription_id)
            sub.removed = (start, now())
        return unsubscribe

    def active(self) -> int:
        return sum(1 for s in self.subs if s.removed is None and not s.removing)

    def subscription_action(self) -> Callable[[], None] | None:
        active = self.active()
        if active < 3 or (active < 12 and self.rng.random() < 0.25):
            return self.subscribe_action()
        if active > 5 and self.rng.random() < 0.12:
            return self.unsubscribe_action()
        return None

    # -- faults --------------------------------------------------------------------------------------------------

    def inject_faults(self) -> None:
        if self.rng.random() > 0.35:
            return
        for _ in range(self.rng.choice((1, 1, 2))):
            target = self.rng.choice(("jobs", "jobs", "jobs", "dataSources", "token"))
            times = self.rng.choice((1, 2, 3))
            if target == "token":
                status = self.rng.choice((500, 503, 429))
                self.control.expire_tokens()  # the next CI call gets 401 and asks for a new token
                # Retry-After 0: MSAL does not hold the failure against the following requests
                self.control.add_fault(TOKEN_PATH, status, method="POST", retry_after=0, times=times)
                self.figures.faults[f"token {status}"] += 1
                continue
            path = JOBS_PATH if target == "jobs" else DATA_SOURCES_PATH
            fault = self.rng.choices(("429", "500", "502", "503", "slow", "malformed"), (3, 2, 2, 3, 1, 2))[0]
            if fault == "slow":
                self.control.add_fault(path, method="GET", delay_seconds=SLOW_CI_SECONDS, times=min(times, 2))
            elif fault == "malformed":
                self.control.add_fault(path, method="GET", malformed_json=True, times=times)
            else:
                retry_after = 0 if fault == "429" or self.rng.random() < 0.5 else None
                self.control.add_fault(path, int(fault), method="GET", retry_after=retry_after, times=times)
            self.figures.faults[f"{target} {fault}"] += 1

    # -- polls ---------------------------------------------------------------------------------------------------

    def poll_kill(self) -> Kill:
        if self.rng.random() > 0.15:
            return Kill()
        point = self.rng.choice(POLL_KILLS)
        return Kill(point, self.rng.choice((1, 1, 2, 3)) if point in ("ci-before", "ci-after", "commit", "send")
                    else 1)

    def poll(self, host: int, kill: Kill, hooks: dict[int, Callable[[], None]], slow: bool) -> PollReport | None:
        ci = PollCI(self.hosts[host], kill, hooks)
        watch = PollWatch(self.tables, kill)
        stores = replace(self.stores, watch=watch, queues=KillQueue(self.queues, lambda: kill, "send"))
        services = Services(self.settings, stores=stores, ci=ci, clock=self.poll_clock)  # type: ignore[arg-type]
        if slow:  # every CI call looks long: the poll leases the instance
            ticks = itertools.count(0, self.lease_seconds / 2 + 1)
            poller = Poller(ci=ci, subscriptions=stores.subscriptions, watch=watch, queues=stores.queues,
                            lease_seconds=self.lease_seconds, clock=self.poll_clock,
                            monotonic=lambda: float(next(ticks)))
        else:
            poller = services.poller
        start = now()
        report: PollReport | None = None
        try:
            report = poller.poll(INSTANCE)
        except Crash:
            self.figures.killed_pollers[str(kill.point)] += 1
        self.figures.polls += 1
        if report is not None and report.skipped:
            self.figures.skipped[report.skipped] += 1
        if report is None or report.skipped not in ("another poller holds the lease", "not watched"):
            self.polls.append(PollRun(start, now(), report is not None and report.committed and not report.failed))
        return report

    def poll_cycle(self, side: Callable[[], None] | None) -> None:
        """One poll, or two racing; ``side`` (a subscribe, an unsubscribe) runs meanwhile, in a thread
        or inside the poll (before one of its CI calls), or before the poll."""
        hooks: dict[int, Callable[[], None]] = {}
        thread_side: Callable[[], None] | None = None
        if side is not None:
            where = self.rng.choice(("before", "before", "thread", "mid-poll"))
            if where == "before":
                side()
            elif where == "thread":
                thread_side = side
                self.figures.mid_poll["subscription change in a thread"] += 1
            else:
                call = self.rng.choice((1, 1, 2))
                hooks[call] = side
                self.figures.mid_poll["subscription change mid-poll"] += 1
                if self.rng.random() < 0.5:  # and then CI finishes something, before the poll reads the jobs
                    hooks[call] = both(side, self.ci_action(self.rng.choice(("advance", "refresh"))))
                    self.figures.mid_poll["CI activity right after it"] += 1
        if self.rng.random() < 0.1:  # CI finishes something while the poll reads
            call = self.rng.choice((1, 1, 2))
            hooks[call] = both(hooks.get(call), self.ci_action(self.rng.choice(("advance", "refresh"))))
            self.figures.mid_poll["CI activity mid-poll"] += 1
        slow = self.rng.random() < 0.05
        self.figures.slow_polls += slow
        kill = self.poll_kill()
        racing = self.rng.random() < 0.1
        threads = []
        errors: list[BaseException] = []
        reports: list[PollReport | None] = []

        def thread(target: Callable[[], None]) -> threading.Thread:
            def run() -> None:
                try:
                    target()
                except BaseException as exc:  # noqa: BLE001 - raised again in the main thread
                    errors.append(exc)
            return threading.Thread(target=run)

        if thread_side is not None:
            threads.append(thread(thread_side))
        if racing:
            self.figures.racing_pairs += 1
            other = self.poll_kill()
            threads.append(thread(lambda: reports.append(self.poll(1, other, {}, False))))
        for t in threads:
            t.start()
        reports.append(self.poll(0, kill, hooks, slow))
        for t in threads:
            t.join()
        for hook in hooks.values():  # the poll made fewer CI calls: what was to happen meanwhile happens now
            hook()
        if errors:
            raise errors[0]
        if any(r is not None and r.skipped == "another poller holds the lease" for r in reports) \
                and not any(r is not None and r.committed for r in reports):
            # a killed slow poller left its lease: time passes for the pollers, not for CI
            self.clock_offset += timedelta(seconds=self.lease_seconds + 1)
            self.figures.lease_waits += 1

    # -- deliveries ----------------------------------------------------------------------------------------------

    def deliver(self, share: float, faults: bool) -> int:
        batch = self.queues.take(DELIVERY_QUEUE)
        if share < 1:
            self.rng.shuffle(batch)
        cut = len(batch) if share >= 1 else int(len(batch) * share)
        for queued in batch[cut:]:
            self.queues.redeliver(DELIVERY_QUEUE, queued)
        for queued in batch[:cut]:
            self.handle(queued, faults)
        return cut

    def handle(self, queued: QueuedMessage, faults: bool) -> None:
        message = parse_message(json.dumps(queued.message))
        kill = Kill()
        if faults and self.rng.random() < 0.06:
            point = self.rng.choice(DELIVERY_KILLS)
            kill = Kill(point, self.rng.randint(1, 3) if isinstance(message, FanoutMessage) else 1)
        self.holder.kill = kill
        try:
            if isinstance(message, FanoutMessage):
                self.deliverer.fan_out(message)
            else:
                assert isinstance(message, DeliveryMessage)
                self.deliverer.deliver(message, message_id=queued.message_id)
        except Crash:
            self.figures.killed_deliverers[str(kill.point)] += 1
            self.queues.redeliver(DELIVERY_QUEUE, queued)  # visible again after its timeout, same id
        finally:
            self.holder.kill = Kill()
        if faults and self.rng.random() < 0.02:  # a copy of the message (a sender's retry, say)
            self.queues.send(DELIVERY_QUEUE, queued.message)
            self.figures.duplicate_copies += 1

    # -- the run -------------------------------------------------------------------------------------------------

    def cycle(self) -> None:
        self.ci_activity()
        side = self.subscription_action()
        self.inject_faults()
        try:
            self.poll_cycle(side)
        finally:
            self.control.clear_faults()
        r = self.rng.random()
        if r < 0.65:
            self.deliver(1.0, faults=True)
        elif r < 0.9:
            self.deliver(self.rng.random(), faults=True)

    def settle(self) -> None:
        """No more faults: every job finishes, polls until two find nothing, then every message is delivered."""
        self.control.clear_faults()
        self.flows.fail_rate = 0.0
        for job in self.read_jobs():
            if job["jobStatus"] not in TERMINAL:
                self.control.complete_job(job["jobId"])
        self.running.clear()
        quiet = 0
        while quiet < 2:
            self.figures.final_polls += 1
            assert self.figures.final_polls < 40, "the polls do not settle"
            report = self.poll(0, Kill(), {}, False)
            assert report is not None
            if report.skipped == "another poller holds the lease":
                self.clock_offset += timedelta(seconds=self.lease_seconds + 1)
                continue
            idle = report.skipped is not None or (report.committed and not report.failed and not report.deliveries)
            quiet = quiet + 1 if idle else 0
            while self.deliver(1.0, faults=False):
                pass

    def read_jobs(self) -> list[dict[str, Any]]:
        return self.api_get(f"/instances/{INSTANCE}/manage/workflows/main/jobs", top=100000, includeTasks="true")


def both(first: Callable[[], None] | None, second: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        if first is not None:
            first()
        second()
    return run


# -- the outcomes CI's records show (computed here, independently of ciconnector.trigger_kinds) -------------------

def outcomes_of(jobs: list[dict[str, Any]], data_sources: Sequence[dict[str, Any]]) -> list[Outcome]:
    by_friendly = {d["friendlyName"].casefold(): (d["dataSourceId"], d["name"]) for d in data_sources}
    by_id = {d["dataSourceId"]: (d["dataSourceId"], d["name"]) for d in data_sources}
    found = []
    for job in jobs:
        tasks = job.get("tasks") or []
        submitted = moment(job.get("submittedTimestamp"))
        ended = moment(job.get("endTimestamp"))
        ids = job.get("idList") or []
        for task in tasks:
            result = REFRESH_OUTCOMES.get(task["taskStatus"])
            if task["operationType"].casefold() == "ingestion" and result is not None:
                ds = by_id.get(ids[0]) if job["operationType"].casefold() == "ingestion" and len(ids) == 1 \
                    else by_friendly.get((task.get("friendlyName") or "").casefold())
                completed = moment(task.get("endTimestamp")) or ended or submitted
                assert completed is not None
                found.append(Outcome("refresh", task["taskId"], result, completed, ds, job.get("jobSubmissionKind")))
        if job["operationType"].casefold() == "all" and job["jobStatus"] in TERMINAL:
            completed = ended or max((t for t in (moment(t.get("endTimestamp")) for t in tasks) if t),
                                     default=submitted)
            assert completed is not None
            found.append(Outcome("full", job["jobId"], job["jobStatus"], completed, None, job.get("jobSubmissionKind")))
        steps = [t for t in tasks if t["operationType"].casefold() in ("map", "match", "merge")]
        merges = [t for t in steps if t["operationType"].casefold() == "merge"]
        if merges and all(t["taskStatus"] in TERMINAL for t in merges) \
                and not all(t["taskStatus"] == "skipped" for t in steps):
            completed = max((t for t in (moment(t.get("endTimestamp")) for t in steps) if t), default=None) \
                or ended or submitted
            assert completed is not None
            found.append(Outcome("unification", job["jobId"], merges[-1]["taskStatus"], completed, None,
                                 job.get("jobSubmissionKind")))
    return found


def wants(sub: Sub, outcome: Outcome) -> bool:
    """Whether ``sub``'s kind and filter take ``outcome`` (its date aside)."""
    if sub.kind in ("dataSourceRefreshSucceeded", "dataSourceRefreshFailed"):
        wanted_result = "succeeded" if sub.kind == "dataSourceRefreshSucceeded" else "failed"
        if outcome.family != "refresh" or outcome.result != wanted_result:
            return False
        wanted = sub.parameters.get("dataSourceId")
        return wanted is None or (outcome.data_source is not None
                                  and wanted.casefold() in (outcome.data_source[0], outcome.data_source[1].casefold()))
    if sub.kind == "fullRefreshCompleted":
        return outcome.family == "full" and (outcome.submission_kind == "scheduled"
                                             or bool(sub.parameters.get("includeOnDemand")))
    return sub.kind == "unificationRefreshCompleted" and outcome.family == "unification"


def delivered_key(kind: str, notification: dict[str, Any]) -> str:
    """The outcome a notification is about: the task of a data source refresh, else the job."""
    return str(notification["taskId"] if kind.startswith("dataSource") else notification["jobId"])


@dataclass
class Verdict:
    expected: set[tuple[str, str]] = field(default_factory=set)
    may: set[tuple[str, str]] = field(default_factory=set)
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    false: list[str] = field(default_factory=list)
    resent_in_window: int = 0
    dropped_after_unsubscribe: int = 0
    delivered: int = 0


def judge(campaign: Campaign, outcomes: list[Outcome]) -> Verdict:
    verdict = Verdict()
    by_key = {o.key: o for o in outcomes}
    subs = {s.subscription_id: s for s in campaign.subs}
    for sub in campaign.subs:
        for outcome in outcomes:
            if not wants(sub, outcome) or outcome.completed <= sub.created_at:
                continue
            pair = (sub.subscription_id, outcome.key)
            if sub.removed is None:
                verdict.expected.add(pair)
                continue
            removed_from, removed_by = sub.removed
            # a clean poll that began after the outcome and ended before the removal reported it to sub
            if any(p.clean and p.start > outcome.completed + SLACK and p.end < removed_from - SLACK
                   for p in campaign.polls):
                verdict.expected.add(pair)
            # any poll that ran after the outcome and began before the removal ended may have
            elif any(p.start < removed_by + SLACK and p.end > outcome.completed - SLACK for p in campaign.polls):
                verdict.may.add(pair)

    got: Counter[tuple[str, str]] = Counter()
    by_event: Counter[tuple[str, str]] = Counter()
    keys_of_event: dict[tuple[str, str], tuple[str, str]] = {}
    for post in campaign.flows.posts:
        if post.status != 202:
            continue
        sub = subs[post.subscription_id]
        assert post.notification["trigger"] == sub.kind, post
        pair = (post.subscription_id, delivered_key(sub.kind, post.notification))
        got[pair] += 1
        by_event[(post.subscription_id, post.event_id)] += 1
        keys_of_event[(post.subscription_id, post.event_id)] = pair
        if pair not in verdict.expected and pair not in verdict.may:
            found = by_key.get(pair[1])
            verdict.false.append(f"{sub.kind} {sub.subscription_id} got {pair[1]} "
                                 f"({found.family if found else 'no such outcome'}, completed "
                                 f"{found.completed.isoformat() if found else '?'}; subscribed "
                                 f"{sub.created_at.isoformat()}, removed {sub.removed})")
    verdict.delivered = sum(got.values())
    for event, count in by_event.items():
        resent = min(count - 1, campaign.flows.window[event])
        verdict.resent_in_window += resent
        if count - 1 > resent:
            verdict.duplicated.append(f"{keys_of_event[event]} event {event[1]} delivered {count} times "
                                      f"({resent} resent after a crash in the send window)")
    events_per_pair = Counter(keys_of_event.values())
    for pair, count in events_per_pair.items():
        if count > 1:
            verdict.duplicated.append(f"{pair} delivered under {count} event ids")
    for pair in sorted(verdict.expected - set(got)):
        sub = subs[pair[0]]
        if sub.removed is not None and dropped(campaign, sub, pair[1]):
            verdict.dropped_after_unsubscribe += 1
            continue
        outcome = by_key[pair[1]]
        verdict.lost.append(f"{sub.kind} {sub.subscription_id} {sub.parameters} lost {outcome.family} {outcome.key} "
                            f"({outcome.result}, completed {outcome.completed.isoformat()}; subscribed "
                            f"{sub.created_at.isoformat()}, removed {sub.removed}); {trace(campaign, sub, pair[1])}")
    return verdict


def trace(campaign: Campaign, sub: Sub, key: str) -> str:
    """What happened to one delivery: its POSTs and its claim record."""
    posts = [p for p in campaign.flows.posts
             if p.subscription_id == sub.subscription_id and delivered_key(sub.kind, p.notification) == key]
    if not posts:
        return "never POSTed"
    try:
        record = campaign.stores.deliveries.get(sub.subscription_id, posts[0].event_id)
    except DeliveryNotFoundError:
        return f"POSTs answered {[p.status for p in posts]}; no delivery record"
    return (f"POSTs answered {[p.status for p in posts]}; delivery record {record.status}, {record.attempts} failed "
            f"attempts, {record.last_error}")


def dropped(campaign: Campaign, sub: Sub, key: str) -> bool:
    """Whether the delivery to a removed subscription was dropped as its retry found it removed."""
    for post in campaign.flows.posts:
        if post.subscription_id == sub.subscription_id and delivered_key(sub.kind, post.notification) == key:
            try:
                record = campaign.stores.deliveries.get(sub.subscription_id, post.event_id)
            except DeliveryNotFoundError:
                return False
            return record.status == "dropped"
    return False


# -- the test ----------------------------------------------------------------------------------------------------

def clear_instance(connection: Any) -> None:
    """Nothing of the sample instance left in the session's Azurite by earlier tests."""
    service = clients.table_service(connection)
    for name in (WATCH_STATE, SUBSCRIPTIONS, DEAD_LETTERS):
        table = service.get_table_client(name)
        try:
            rows = list(table.query_entities("PartitionKey eq @pk", parameters={"pk": INSTANCE},
                                             select=["PartitionKey", "RowKey"]))
        except ResourceNotFoundError:
            continue
        for row in rows:
            table.delete_entity(row["PartitionKey"], row["RowKey"])


@pytest.fixture
def small_commit_groups(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Commits of a few outcomes span several fenced transactions (so a poll can die between them)."""
    monkeypatch.setattr(watch_module, "MAX_GROUP_OPERATIONS", 3)
    yield


def test_fault_campaign_loses_duplicates_and_invents_nothing(app_env, ci_sim, capsys, small_commit_groups):
    started = time.monotonic()
    clear_instance(resolve(environ=app_env))
    rng = random.Random(SEED)
    campaign = Campaign(app_env, ci_sim.control, rng)
    try:
        for _ in range(CYCLES):
            campaign.cycle()
        campaign.settle()
        jobs = campaign.read_jobs()
        data_sources = [d["dataSourceMetadata"] for d in campaign.api_get(f"/instances/{INSTANCE}/manage/datasources")]
    finally:
        ci_sim.control.clear_faults()
    outcomes = outcomes_of(jobs, data_sources)
    verdict = judge(campaign, outcomes)
    view = campaign.stores.watch.read(INSTANCE)
    gaps = (view.state.get("jobs") or {}).get("gaps") or []
    dead_letters = campaign.stores.dead_letters.list_for_instance(INSTANCE)
    wall = time.monotonic() - started

    f = campaign.figures
    posts = campaign.flows.posts
    families = Counter(o.family for o in outcomes)
    lines = [
        f"fault campaign: seed {SEED}, {CYCLES} cycles, wall time {wall:.1f} s",
        f"polls: {f.polls} ({f.racing_pairs} racing pairs, {f.slow_polls} slow ones leasing the instance, "
        f"{f.lease_waits} waits for a dead poller's lease, {f.final_polls} to settle; skipped: {dict(f.skipped)})",
        f"killed pollers: {sum(f.killed_pollers.values())} {dict(sorted(f.killed_pollers.items()))}",
        f"killed deliverers: {sum(f.killed_deliverers.values())} {dict(sorted(f.killed_deliverers.items()))}; "
        f"duplicate message copies: {f.duplicate_copies}",
        f"CI faults injected: {sum(f.faults.values())} {dict(sorted(f.faults.items()))}",
        f"meanwhile: {dict(sorted(f.mid_poll.items()))}",
        f"CI jobs: {len(jobs)} ({campaign.jobs_made} made here, {f.bursts} bursts of 20-60)",
        f"outcomes: {len(outcomes)} (data source refreshes {families['refresh']}, full refreshes {families['full']}, "
        f"unification runs {families['unification']})",
        f"subscriptions: {len(campaign.subs)} ({sum(1 for s in campaign.subs if s.removed)} removed; "
        f"{f.subscribe_failures} subscribes refused by CI faults)",
        f"expected deliveries: {len(verdict.expected)} (+{len(verdict.may)} may, racing a removal)",
        f"POSTs: {len(posts)} ({sum(p.status == 202 for p in posts)} answered 202, "
        f"{sum(p.status == 503 for p in posts)} answered 503 and retried)",
        f"lost: {len(verdict.lost)}, duplicated: {len(verdict.duplicated)}, false: {len(verdict.false)}; "
        f"resent after a crash in the send window: {verdict.resent_in_window}; "
        f"dropped after unsubscribe: {verdict.dropped_after_unsubscribe}",
        f"dead letters: {len(dead_letters)}; gaps recorded: {len(gaps)}",
    ]
    details = [*(f"LOST {x}" for x in verdict.lost[:20]), *(f"DUPLICATED {x}" for x in verdict.duplicated[:20]),
               *(f"FALSE {x}" for x in verdict.false[:20])]
    text = "\n".join(lines + details) + "\n"
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(text, encoding="utf-8")
    with capsys.disabled():
        print("\n" + text, end="")

    assert not gaps, gaps
    assert view.outbox == (), "every outbox row was dispatched"
    assert campaign.queues.take(DELIVERY_QUEUE) == []
    assert (verdict.lost, verdict.duplicated, verdict.false) == ([], [], []), text
