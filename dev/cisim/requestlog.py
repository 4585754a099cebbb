"""The request log: how many calls reached the simulator, for call-budget checks and benchmarks."""
from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class RequestLog:
    """Counts of requests per ``METHOD /path`` and per CI operation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._operations: Counter[str] = Counter()
        self._total = 0
        self._tokens = 0

    def record(self, method: str, path: str, operation: str | None, is_api: bool, is_token: bool) -> None:
        """Count one request (``is_api`` for ``/v1`` calls, ``is_token`` for token requests)."""
        with self._lock:
            self._calls[f"{method} {path}"] += 1
            if operation:
                self._operations[operation] += 1
            self._total += is_api
            self._tokens += is_token

    def summary(self) -> dict[str, Any]:
        """``{total, token_requests, calls, operations}``; ``total`` counts CI API (/v1) calls only."""
        with self._lock:
            return {"total": self._total, "token_requests": self._tokens, "calls": dict(self._calls),
                    "operations": dict(self._operations)}

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._calls.clear()
            self._operations.clear()
            self._total = self._tokens = 0
