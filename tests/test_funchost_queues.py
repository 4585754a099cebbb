"""Queue triggers and queue output bindings of the local host, on Azurite."""
from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterator

import pytest
from azure.storage.queue import QueueClient

from tests.apps.sample_support import SAMPLE_APP, SAMPLE_ROOT, drain, peek, queue_client, records, sample_env, wait_for
from tests.fixtures.funchost import FuncHostFactory, FuncHostProcess

MAX_DEQUEUE_COUNT = 3  # tests/apps/sample/host.json
VISIBILITY_TIMEOUT = 1.0


class Outputs:
    """Collects the output queue's messages by job id."""

    def __init__(self, client: QueueClient) -> None:
        self.client = client
        self.by_id: dict[str, list[dict]] = defaultdict(list)

    def collect(self) -> None:
        """Move every visible message into ``by_id``."""
        for text in drain(self.client):
            message = json.loads(text)
            self.by_id[message["id"]].append(message)

    def wait(self, job_id: str, count: int, timeout: float = 10.0) -> list[dict]:
        """The outputs of ``job_id`` once there are ``count`` of them."""
        def ready() -> list[dict] | None:
            self.collect()
            return self.by_id[job_id] if len(self.by_id[job_id]) >= count else None
        return wait_for(ready, timeout=timeout, interval=0.1)


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("queue-state")


@pytest.fixture(scope="module")
def env(azurite: Any, state: Path) -> dict[str, str]:
    return sample_env(azurite.connection_string, state)


@pytest.fixture(scope="module")
def host(funchost_factory: FuncHostFactory, env: dict[str, str]) -> Iterator[FuncHostProcess]:
    host = funchost_factory.start(root=SAMPLE_ROOT, app=SAMPLE_APP, env=env)
    yield host
    host.stop()


@pytest.fixture(scope="module")
def inbox(azurite: Any, env: dict[str, str], host: FuncHostProcess) -> QueueClient:
    """The trigger queue (created by the host), writing base64 as the Functions host expects."""
    return queue_client(azurite.connection_string, env["SAMPLE_IN_QUEUE"])


@pytest.fixture(scope="module")
def outputs(azurite: Any, env: dict[str, str], host: FuncHostProcess) -> Outputs:
    return Outputs(queue_client(azurite.connection_string, env["SAMPLE_OUT_QUEUE"]))


def _job(**fields: Any) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, **fields}


def _attempts(state: Path, job_id: str) -> list[dict]:
    return [r for r in records(state, "attempts") if r["id"] == job_id]


def _count(client: QueueClient) -> int:
    return client.get_queue_properties().approximate_message_count


def test_message_runs_once_with_dequeue_count_and_is_deleted(host: FuncHostProcess, inbox: QueueClient,
                                                             outputs: Outputs, state: Path) -> None:
    job = _job(outputs=2)
    sent = inbox.send_message(json.dumps(job))
    result = outputs.wait(job["id"], 2)
    assert sorted(m["part"] for m in result) == [0, 1] and {m["dequeue_count"] for m in result} == {1}
    attempts = _attempts(state, job["id"])
    assert [(a["attempt"], a["dequeue_count"], a["message_id"]) for a in attempts] == [(1, 1, sent.id)]
    wait_for(lambda: _count(inbox) == 0)


def test_failure_is_retried_after_the_visibility_timeout_without_outputs(
        host: FuncHostProcess, inbox: QueueClient, outputs: Outputs, state: Path) -> None:
    job = _job(fail_times=1)
    inbox.send_message(json.dumps(job))
    result = outputs.wait(job["id"], 1)
    attempts = _attempts(state, job["id"])
    assert [a["dequeue_count"] for a in attempts] == [1, 2]
    assert attempts[1]["at"] - attempts[0]["at"] >= VISIBILITY_TIMEOUT * 0.9
    time.sleep(0.3)
    outputs.collect()
    assert outputs.by_id[job["id"]] == result and [m["dequeue_count"] for m in result] == [2]


def test_message_goes_to_poison_after_max_dequeue_count(host: FuncHostProcess, inbox: QueueClient,
                                                        outputs: Outputs, state: Path, azurite: Any,
                                                        env: dict[str, str]) -> None:
    job = _job(fail_times=99)
    text = json.dumps(job)
    inbox.send_message(text)
    poison = queue_client(azurite.connection_string, env["SAMPLE_IN_QUEUE"] + "-poison")
    assert wait_for(lambda: peek(poison), timeout=10) == [text]
    assert [a["dequeue_count"] for a in _attempts(state, job["id"])] == [1, 2, 3]
    assert MAX_DEQUEUE_COUNT == 3
    wait_for(lambda: _count(inbox) == 0)
    outputs.collect()
    assert outputs.by_id[job["id"]] == []
    assert "Message has reached MaxDequeueCount of 3. Moving message to queue" in host.logs()
    drain(poison)


def test_message_that_is_not_base64_goes_to_poison_unprocessed(host: FuncHostProcess, state: Path,
                                                               azurite: Any, env: dict[str, str]) -> None:
    raw = queue_client(azurite.connection_string, env["SAMPLE_IN_QUEUE"], base64=False)
    raw.send_message("{not base64!}")
    poison = queue_client(azurite.connection_string, env["SAMPLE_IN_QUEUE"] + "-poison", base64=False)
    assert wait_for(lambda: peek(poison)) == ["{not base64!}"]
    assert "cannot be decoded as base64" in host.logs()
    drain(poison)


def test_admin_endpoint_runs_a_queue_function(host: FuncHostProcess, outputs: Outputs, state: Path) -> None:
    job = _job()
    response = host.invoke("work", json.dumps(job))
    assert response.status_code == 202 and response.json()["status"] == "Succeeded"
    assert [a["dequeue_count"] for a in _attempts(state, job["id"])] == [0]
    assert outputs.wait(job["id"], 1)[0]["dequeue_count"] == 0


def test_deleted_queues_are_tolerated(host: FuncHostProcess, inbox: QueueClient, outputs: Outputs,
                                      state: Path) -> None:
    outputs.client.delete_queue()  # the host re-creates an output queue when a put finds it missing
    inbox.delete_queue()  # a listener treats a missing trigger queue as empty
    time.sleep(1.0)
    inbox.create_queue()
    job = _job()
    inbox.send_message(json.dumps(job))
    assert outputs.wait(job["id"], 1)[0]["dequeue_count"] == 1
    assert "Polling queue" not in host.logs()


def test_batches_run_concurrently_up_to_batch_size_plus_threshold(
        funchost_factory: FuncHostFactory, azurite: Any, tmp_path: Path) -> None:
    env = sample_env(azurite.connection_string, tmp_path)
    inbox = queue_client(azurite.connection_string, env["SAMPLE_IN_QUEUE"])
    inbox.create_queue()
    jobs = [_job(sleep=0.3), _job(sleep=0.3)] + [_job(sleep=1.0) for _ in range(8)]
    for job in jobs:  # queued before the host starts, so the first batch is deterministic
        inbox.send_message(json.dumps(job))
    host = funchost_factory.start(root=SAMPLE_ROOT, app=SAMPLE_APP, env=env)
    try:
        runs = wait_for(lambda: (found := records(tmp_path, "runs")) and len(found) == len(jobs) and found,
                        timeout=15)
    finally:
        assert host.stop() == 0
    events = sorted([(r["start"], 1) for r in runs] + [(r["end"], -1) for r in runs])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    # batchSize 4 fetched at once; after the two short ones finish (2 <= newBatchThreshold 2)
    # the next 4 are fetched: 6 = batchSize + newBatchThreshold at most.
    assert peak == 6
    assert max(r["end"] for r in runs) - min(r["start"] for r in runs) < 4.0
