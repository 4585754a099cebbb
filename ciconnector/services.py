"""Process-wide services built once from the settings (the composition root)."""
from __future__ import annotations

from functools import lru_cache

from .customer_insights import CustomerInsightsClient
from .health import HealthCheck
from .settings import Settings


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The app settings, read once per process."""
    return Settings.from_environ()


@lru_cache(maxsize=1)
def ci_client() -> CustomerInsightsClient:
    """The shared CI client (its token cache and connection pool live for the process)."""
    return CustomerInsightsClient(settings().ci)


@lru_cache(maxsize=1)
def health_check() -> HealthCheck:
    """The shared health check (results cached briefly to protect CI from probes)."""
    return HealthCheck(settings(), ci_client())
