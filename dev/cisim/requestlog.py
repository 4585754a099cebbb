"""The request log: how many calls reached the simulator, for call-budget checks and benchmarks.

It also records which API form each workflow call used (``forms``): the path prefix
(``workflows`` from the 2021 code model or ``manage/workflows`` from the current docs), the
``operationType`` spelling as sent, and whether ``identifiers`` came quoted, plain or in the body.
"""
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
        self._forms: dict[str, Counter[str]] = {}
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

    def note_form(self, aspect: str, form: str) -> None:
        """Count one use of ``form`` for ``aspect`` (``workflow_path``, ``operation_type``, ``identifiers``)."""
        with self._lock:
            self._forms.setdefault(aspect, Counter())[form] += 1

    def summary(self) -> dict[str, Any]:
        """``{total, token_requests, calls, operations, forms}``; ``total`` counts CI API (/v1) calls only;
        ``forms`` is ``{aspect: {form: count}}``."""
        with self._lock:
            return {"total": self._total, "token_requests": self._tokens, "calls": dict(self._calls),
                    "operations": dict(self._operations),
                    "forms": {aspect: dict(counts) for aspect, counts in self._forms.items()}}

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._calls.clear()
            self._operations.clear()
            self._forms.clear()
            self._total = self._tokens = 0
