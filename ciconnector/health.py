"""Health report: can the app reach its storage account and the CI API?"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

from azure.core.exceptions import AzureError

from .customer_insights import CustomerInsightsClient, CustomerInsightsError
from .settings import Settings
from .storage import clients
from .storage.connection import StorageConnectionError

CACHE_SECONDS = 15.0
"""A report is reused this long, so frequent probes do not spend CI's call budget."""


@dataclass(frozen=True)
class HealthReport:
    """Outcome of the checks; ``to_dict`` reveals no secret, only error kinds."""

    checks: dict[str, dict]

    @property
    def healthy(self) -> bool:
        return all(c["ok"] for c in self.checks.values())

    def to_dict(self) -> dict:
        return {"status": "healthy" if self.healthy else "unhealthy", "checks": self.checks}


class HealthCheck:
    """Runs the storage and CI checks, caching the report for :data:`CACHE_SECONDS`."""

    def __init__(self, settings: Settings, ci: CustomerInsightsClient, *, clock: Callable[[], float] = time.monotonic):
        self._settings = settings
        self._ci = ci
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, HealthReport] | None = None

    def report(self) -> HealthReport:
        with self._lock:
            now = self._clock()
            if self._cached and now - self._cached[0] < CACHE_SECONDS:
                return self._cached[1]
            report = HealthReport({"storage": {**self._storage_mode(), **_timed(self._storage)},
                                   "customerInsights": _timed(self._customer_insights)})
            self._cached = (now, report)
            return report

    def _storage_mode(self) -> dict:
        """Which connection mode and endpoints are in use (never the connection string)."""
        storage = self._settings.storage
        return storage.describe() if storage else {"mode": None}

    def _storage(self) -> None:
        try:
            connection = self._settings.require_storage()
        except StorageConnectionError as exc:
            raise LookupError(str(exc)) from None
        try:
            tables = clients.table_service(connection, connection_timeout=5, read_timeout=5)
            next(iter(tables.list_tables(results_per_page=1).by_page()), None)
            queues = clients.queue_service(connection, connection_timeout=5, read_timeout=5)
            next(iter(queues.list_queues(results_per_page=1).by_page()), None)
        except (AzureError, ValueError) as exc:
            raise LookupError(f"storage unreachable ({type(exc).__name__})") from None

    def _customer_insights(self) -> None:
        if not self._settings.ci.is_configured:
            raise LookupError(f"CI is not configured for CI_CREDENTIAL={self._settings.ci.credential}: set "
                              f"{', '.join(self._settings.ci.missing_settings)}")
        try:
            self._ci.list_instances()
        except CustomerInsightsError as exc:
            detail = f"{type(exc).__name__}" + (f" (HTTP {exc.status})" if exc.status else "")
            raise LookupError(f"CI API unreachable: {detail}") from None


def _timed(check: Callable[[], None]) -> dict:
    started = time.perf_counter()
    try:
        check()
    except LookupError as exc:
        return {"ok": False, "error": str(exc), "latencyMs": round((time.perf_counter() - started) * 1000)}
    return {"ok": True, "latencyMs": round((time.perf_counter() - started) * 1000)}
