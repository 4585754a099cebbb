"""The parts of host.json the local host honours."""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import HostError

_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")


def parse_timespan(value: str, what: str) -> float:
    """A .NET TimeSpan string (``[d.]hh:mm:ss[.fff]``) in seconds."""
    match = _TIMESPAN.match(str(value).strip())
    if not match:
        raise HostError(f"host.json {what}: '{value}' is not a TimeSpan (hh:mm:ss)")
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@dataclass(frozen=True)
class QueueOptions:
    """``extensions.queues`` with the documented defaults."""

    max_polling_interval: float = 60.0
    visibility_timeout: float = 0.0
    batch_size: int = 16
    max_dequeue_count: int = 5
    new_batch_threshold: int = 8
    message_encoding: str = "base64"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "QueueOptions":
        """Options from the ``extensions.queues`` object."""
        batch_size = int(data.get("batchSize", 16))
        if not 1 <= batch_size <= 32:
            raise HostError("host.json extensions.queues.batchSize must be between 1 and 32")
        threshold = data.get("newBatchThreshold")
        encoding = str(data.get("messageEncoding", "base64")).lower()
        if encoding not in ("base64", "none"):
            raise HostError("host.json extensions.queues.messageEncoding must be 'base64' or 'none'")
        return cls(
            max_polling_interval=max(0.1, parse_timespan(
                data.get("maxPollingInterval", "00:01:00"), "maxPollingInterval")),
            visibility_timeout=parse_timespan(data.get("visibilityTimeout", "00:00:00"), "visibilityTimeout"),
            batch_size=batch_size,
            max_dequeue_count=int(data.get("maxDequeueCount", 5)),
            new_batch_threshold=(int(threshold) if threshold is not None
                                 else (os.cpu_count() or 1) * batch_size // 2),
            message_encoding=encoding,
        )


@dataclass(frozen=True)
class HostConfig:
    """host.json: HTTP route prefix, queue options, the optional ``functions`` allow-list."""

    route_prefix: str = "api"
    queues: QueueOptions = QueueOptions()
    functions: tuple[str, ...] | None = None

    @classmethod
    def load(cls, root: Path) -> "HostConfig":
        """Read ``root/host.json`` (defaults when absent)."""
        path = root / "host.json"
        if not path.is_file():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as exc:
            raise HostError(f"cannot read {path}: {exc}") from exc
        extensions = data.get("extensions") or {}
        functions = data.get("functions")
        return cls(
            route_prefix=str((extensions.get("http") or {}).get("routePrefix", "api")).strip("/"),
            queues=QueueOptions.from_json(extensions.get("queues") or {}),
            functions=tuple(functions) if functions is not None else None,
        )
