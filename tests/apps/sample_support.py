"""Helpers for tests that run the sample app in tests/apps/sample on the local host."""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Callable, TypeVar

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

SAMPLE_ROOT = Path(__file__).resolve().parent / "sample"
SAMPLE_APP = "sample_app"
T = TypeVar("T")


def unique_name(prefix: str) -> str:
    """A queue name unique to this run."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def sample_env(connection_string: str, state_dir: Path, **extra: str) -> dict[str, str]:
    """Settings for the sample app: storage, state directory, unique queues."""
    state_dir.mkdir(parents=True, exist_ok=True)
    return {"AzureWebJobsStorage": connection_string, "SAMPLE_STATE_DIR": str(state_dir),
            "SAMPLE_IN_QUEUE": unique_name("work"), "SAMPLE_OUT_QUEUE": unique_name("done"), **extra}


def records(state_dir: Path, kind: str) -> list[dict]:
    """Records the sample functions wrote (see sample_state.py)."""
    path = state_dir / f"{kind}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def wait_for(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.05) -> T:
    """Poll ``check`` until it returns something truthy; AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last value {value!r})")
        time.sleep(interval)


def queue_client(connection_string: str, name: str, *, base64: bool = True) -> QueueClient:
    """A client for ``name``; with ``base64`` it encodes and decodes text as the Functions host expects."""
    if base64:
        return QueueClient.from_connection_string(connection_string, name,
                                                  message_encode_policy=TextBase64EncodePolicy(),
                                                  message_decode_policy=TextBase64DecodePolicy())
    return QueueClient.from_connection_string(connection_string, name)


def drain(client: QueueClient) -> list[str]:
    """Receive and delete every visible message; their texts (none if the queue does not exist yet)."""
    texts = []
    try:
        for message in client.receive_messages(messages_per_page=32):
            texts.append(message.content)
            client.delete_message(message)
    except ResourceNotFoundError:
        pass
    return texts


def peek(client: QueueClient) -> list[str]:
    """Texts of the visible messages, left in place (none if the queue does not exist yet)."""
    try:
        return [message.content for message in client.peek_messages(max_messages=32)]
    except ResourceNotFoundError:
        return []
