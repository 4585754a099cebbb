"""App settings, read in one place.

Every setting is an environment variable (an Azure app setting, or a ``Values`` entry of
local.settings.json when run locally). The defaults below are the documented defaults; the
README's settings table lists the same names and values.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping


class SettingsError(ValueError):
    """A setting is missing or malformed."""


DEFAULT_CI_BASE_URL = "https://api.ci.ai.dynamics.com/v1"
DEFAULT_CI_AUTHORITY_HOST = "https://login.microsoftonline.com"
DEFAULT_CI_SCOPE = "https://api.ci.ai.microsoft.com/.default"
DEFAULT_DELIVERY_RETRY_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


@dataclass(frozen=True)
class CustomerInsightsSettings:
    """How to reach the Customer Insights API v1.

    Attributes:
        base_url: API root, default ``https://api.ci.ai.dynamics.com/v1`` (``CI_API_BASE_URL``).
        tenant_id: Entra ID tenant of the app registration (``CI_TENANT_ID``).
        client_id: app registration id (``CI_CLIENT_ID``).
        client_secret: app registration secret (``CI_CLIENT_SECRET``).
        subscription_key: APIM key sent as ``Ocp-Apim-Subscription-Key`` (``CI_SUBSCRIPTION_KEY``).
        authority: token authority, default ``https://login.microsoftonline.com/<tenant>``
            (``CI_AUTHORITY``).
        scope: token scope, default ``https://api.ci.ai.microsoft.com/.default`` (``CI_SCOPE``).
        workflow_path: ``workflows`` (2021 spec, default) or ``manage/workflows`` (2024 docs)
            (``CI_WORKFLOW_PATH``).
        workflow_name: workflow graph name, default ``main`` (``CI_WORKFLOW_NAME``).
        ca_bundle: extra CA bundle to trust for the API and the authority, default none
            (``CI_CA_BUNDLE``; used for the local simulator).
        timeout_seconds: per-call timeout, default 30 (``CI_TIMEOUT_SECONDS``).
        max_attempts: attempts per call on 429/502/503/504/connection errors, default 4
            (``CI_MAX_ATTEMPTS``).
        max_retry_wait_seconds: total time a call may spend waiting between attempts,
            default 60 (``CI_MAX_RETRY_WAIT_SECONDS``).
    """

    base_url: str = DEFAULT_CI_BASE_URL
    tenant_id: str = ""
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    subscription_key: str = field(default="", repr=False)
    authority: str = ""
    scope: str = DEFAULT_CI_SCOPE
    workflow_path: str = "workflows"
    workflow_name: str = "main"
    ca_bundle: str | None = None
    timeout_seconds: float = 30.0
    max_attempts: int = 4
    max_retry_wait_seconds: float = 60.0

    @property
    def effective_authority(self) -> str:
        """The authority URL MSAL uses."""
        if self.authority:
            return self.authority.rstrip("/")
        return f"{DEFAULT_CI_AUTHORITY_HOST}/{self.tenant_id or 'organizations'}"

    @property
    def worst_call_seconds(self) -> float:
        """The longest one call may take, every retry included."""
        return self.max_attempts * self.timeout_seconds + self.max_retry_wait_seconds

    @property
    def is_configured(self) -> bool:
        """Whether the credentials needed for a call are present."""
        return bool(self.client_id and self.client_secret and self.subscription_key
                    and (self.authority or self.tenant_id))


@dataclass(frozen=True)
class Settings:
    """All app settings.

    Attributes:
        storage_connection: storage account connection string (``AzureWebJobsStorage``).
        ci: Customer Insights API settings.
        instance_ids: allowlist of CI instance ids makers may subscribe to; empty = any
            (``CI_INSTANCE_IDS``, comma-separated).
        callback_allowed_hosts: dev-only ``host:port`` entries whose callback URLs skip the
            private-address check, default none (``CALLBACK_ALLOWED_HOSTS``, comma-separated).
        delivery_timeout_seconds: timeout of one callback POST, default 15
            (``DELIVERY_TIMEOUT_SECONDS``).
        delivery_retry_schedule: seconds between delivery attempts, default
            ``5,300,1800,7200,18000,36000,36000`` (about 27.6 hours) (``DELIVERY_RETRY_SCHEDULE``).
        disable_after_not_found: consecutive 404 answers after which a subscription is disabled,
            default 3 (``DELIVERY_DISABLE_AFTER_NOT_FOUND``).
        callback_ca_bundle: extra CA bundle trusted for callback URLs, default none
            (``CALLBACK_CA_BUNDLE``; dev only, for a local test receiver).
        connector_host: host name written into the served connector definition, default the
            host the request came to (``CONNECTOR_HOST``; set it behind a gateway or custom domain).
        connector_base_path: base path of the served definition, default ``/api``
            (``CONNECTOR_BASE_PATH``; host.json's route prefix, or a gateway's path).

    The poll timer's schedule is not here: the timer binding reads the ``POLL_SCHEDULE`` app
    setting itself (``%POLL_SCHEDULE%``), so it must be set (``0 */1 * * * *``: every minute).
    """

    storage_connection: str = ""
    ci: CustomerInsightsSettings = field(default_factory=CustomerInsightsSettings)
    instance_ids: tuple[str, ...] = ()
    callback_allowed_hosts: tuple[str, ...] = ()
    delivery_timeout_seconds: float = 15.0
    delivery_retry_schedule: tuple[float, ...] = DEFAULT_DELIVERY_RETRY_SCHEDULE
    disable_after_not_found: int = 3
    callback_ca_bundle: str | None = None
    connector_host: str | None = None
    connector_base_path: str = "/api"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Read settings from ``environ`` (default: ``os.environ``)."""
        env = os.environ if environ is None else environ

        def text(name: str, default: str = "") -> str:
            return env.get(name, "").strip() or default

        def number(name: str, default: float, kind: type = float) -> float:
            raw = text(name)
            if not raw:
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise SettingsError(f"{name} must be a number, got {raw!r}") from None
            if value <= 0:
                raise SettingsError(f"{name} must be positive, got {raw!r}")
            return value

        workflow_path = text("CI_WORKFLOW_PATH", "workflows").strip("/")
        if workflow_path not in ("workflows", "manage/workflows"):
            raise SettingsError("CI_WORKFLOW_PATH must be 'workflows' or 'manage/workflows'")
        ci = CustomerInsightsSettings(
            base_url=text("CI_API_BASE_URL", DEFAULT_CI_BASE_URL).rstrip("/"),
            tenant_id=text("CI_TENANT_ID"),
            client_id=text("CI_CLIENT_ID"),
            client_secret=text("CI_CLIENT_SECRET"),
            subscription_key=text("CI_SUBSCRIPTION_KEY"),
            authority=text("CI_AUTHORITY"),
            scope=text("CI_SCOPE", DEFAULT_CI_SCOPE),
            workflow_path=workflow_path,
            workflow_name=text("CI_WORKFLOW_NAME", "main"),
            ca_bundle=text("CI_CA_BUNDLE") or None,
            timeout_seconds=number("CI_TIMEOUT_SECONDS", 30.0),
            max_attempts=int(number("CI_MAX_ATTEMPTS", 4, int)),
            max_retry_wait_seconds=number("CI_MAX_RETRY_WAIT_SECONDS", 60.0),
        )
        instance_ids = tuple(i.strip().lower() for i in text("CI_INSTANCE_IDS").split(",") if i.strip())
        from .triggers.callback import parse_allowed_hosts  # settings stays a leaf module at import time

        try:
            allowed_hosts = parse_allowed_hosts(text("CALLBACK_ALLOWED_HOSTS"))
        except ValueError as exc:
            raise SettingsError(f"CALLBACK_ALLOWED_HOSTS: {exc}") from None
        schedule_text = text("DELIVERY_RETRY_SCHEDULE")
        try:
            schedule = tuple(float(s) for s in schedule_text.split(",")) if schedule_text \
                else DEFAULT_DELIVERY_RETRY_SCHEDULE
        except ValueError:
            raise SettingsError("DELIVERY_RETRY_SCHEDULE must list seconds, e.g. 5,300,1800") from None
        if any(s < 0 for s in schedule):
            raise SettingsError("DELIVERY_RETRY_SCHEDULE must not hold negative delays")
        return cls(
            storage_connection=text("AzureWebJobsStorage"),
            ci=ci,
            instance_ids=instance_ids,
            callback_allowed_hosts=allowed_hosts,
            delivery_timeout_seconds=number("DELIVERY_TIMEOUT_SECONDS", 15.0),
            delivery_retry_schedule=schedule,
            disable_after_not_found=int(number("DELIVERY_DISABLE_AFTER_NOT_FOUND", 3, int)),
            callback_ca_bundle=text("CALLBACK_CA_BUNDLE") or None,
            connector_host=text("CONNECTOR_HOST") or None,
            connector_base_path="/" + text("CONNECTOR_BASE_PATH", "/api").strip("/"),
        )
