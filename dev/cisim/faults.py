"""Fault injection rules, applied to every non-control request."""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Mapping

from .errors import ControlError

_KNOWN_STATUSES = {s.value for s in HTTPStatus}
RULE_KEYS = ("method", "path_regex", "status", "retry_after", "delay_seconds", "malformed_json", "times")


@dataclass
class FaultRule:
    """One rule: the first ``times`` requests whose method and path match get the fault.

    ``path_regex`` is searched (``re.search``) in the request path without the query string.
    ``status`` replaces the response (error body per endpoint family, empty for 429/401);
    without it the request is handled normally. ``delay_seconds`` sleeps first;
    ``malformed_json`` truncates the body so it is not valid JSON.
    """

    id: int
    path_regex: str
    method: str | None = None
    status: int | None = None
    retry_after: int | None = None
    delay_seconds: float = 0.0
    malformed_json: bool = False
    times: int = 1
    pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.pattern = re.compile(self.path_regex)

    def matches(self, method: str, path: str) -> bool:
        """Whether the rule applies to ``method path``."""
        return (self.method is None or self.method.upper() == method.upper()) and bool(self.pattern.search(path))

    def to_json(self) -> dict[str, Any]:
        """The rule as given, with ``times`` = remaining uses."""
        return {"id": self.id, "method": self.method, "path_regex": self.path_regex, "status": self.status,
                "retry_after": self.retry_after, "delay_seconds": self.delay_seconds,
                "malformed_json": self.malformed_json, "times": self.times}


class FaultInjector:
    """Ordered fault rules; each matching request consumes one use of the first matching rule."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._next_id = 1

    def add(self, spec: Mapping[str, Any]) -> FaultRule:
        """Validate and append a rule from its JSON form."""
        if not isinstance(spec.get("path_regex"), str):
            raise ControlError(400, "path_regex (string) is required.")
        status, times = spec.get("status"), spec.get("times", 1)
        delay, retry_after = spec.get("delay_seconds") or 0, spec.get("retry_after")
        if status is not None and (not isinstance(status, int) or status not in _KNOWN_STATUSES):
            raise ControlError(400, "status must be a standard HTTP status code.")
        if not isinstance(times, int) or times < 1:
            raise ControlError(400, "times must be a positive integer.")
        if not isinstance(delay, (int, float)) or delay < 0:
            raise ControlError(400, "delay_seconds must be a non-negative number.")
        if retry_after is not None and (not isinstance(retry_after, int) or retry_after < 0):
            raise ControlError(400, "retry_after must be a non-negative integer (seconds).")
        if status is None and not delay and not spec.get("malformed_json"):
            raise ControlError(400, "A fault needs status, delay_seconds or malformed_json.")
        with self._lock:
            try:
                rule = FaultRule(id=self._next_id, path_regex=spec["path_regex"], method=spec.get("method"),
                                 status=status, retry_after=retry_after, delay_seconds=float(delay),
                                 malformed_json=bool(spec.get("malformed_json")), times=times)
            except re.error as exc:
                raise ControlError(400, f"Invalid path_regex: {exc}.") from None
            self._next_id += 1
            self._rules.append(rule)
        return rule

    def take(self, method: str, path: str) -> FaultRule | None:
        """Consume one use of the first rule matching the request, if any."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    rule.times -= 1
                    if rule.times == 0:
                        self._rules.remove(rule)
                    return rule
        return None

    def rules(self) -> list[dict[str, Any]]:
        """Active rules with their remaining uses."""
        with self._lock:
            return [r.to_json() for r in self._rules]

    def clear(self) -> None:
        """Drop every rule."""
        with self._lock:
            self._rules.clear()
