"""App settings, read in one place.

Every setting is an environment variable (an Azure app setting, or a ``Values`` entry of
local.settings.json when run locally). The defaults below are the documented defaults; the
README's settings table lists the same names and values.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping
from urllib.parse import urlsplit

from .callback_policy import parse_allowed_hosts

if TYPE_CHECKING:  # the storage module imports SettingsError from here
    from .storage.connection import StorageConnection


class SettingsError(ValueError):
    """A setting is missing or malformed."""


DEFAULT_CI_BASE_URL = "https://api.ci.ai.dynamics.com/v1"
DEFAULT_CI_AUTHORITY_HOST = "https://login.microsoftonline.com"
DEFAULT_CI_SCOPE = "https://api.ci.ai.microsoft.com/.default"
DEFAULT_CI_WORKFLOW_PATH = "manage/workflows"
CI_WORKFLOW_PATHS = ("manage/workflows", "workflows")
"""``manage/workflows``: Microsoft's current docs (OData examples); ``workflows``: the 2021 code model."""
CI_CREDENTIALS = ("secret", "certificate", "managedidentity")
"""How the app proves its identity to Entra ID for the CI API (``CI_CREDENTIAL``)."""
DEFAULT_DELIVERY_RETRY_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
AUTH_MODES = ("functionKey", "entra")
"""How callers authenticate (``AUTH_MODE``): a function key, or an Entra ID user access token."""
DEFAULT_AUTH_SCOPE = "user_impersonation"
DEFAULT_AUTH_ADMIN_ROLE = "Connector.Admin"


@dataclass(frozen=True)
class CustomerInsightsSettings:
    """How to reach the Customer Insights API v1.

    Attributes:
        base_url: API root, default ``https://api.ci.ai.dynamics.com/v1`` (``CI_API_BASE_URL``).
        tenant_id: Entra ID tenant of the app registration (``CI_TENANT_ID``).
        client_id: app registration id (``CI_CLIENT_ID``).
        credential: ``secret``, ``certificate`` or ``managedidentity`` (``CI_CREDENTIAL``); unset
            means ``secret`` when ``CI_CLIENT_SECRET`` is set, else ``certificate`` when
            ``CI_CLIENT_CERTIFICATE_PATH`` is set, else ``secret`` (and not configured).
        client_secret: app registration secret (``CI_CLIENT_SECRET``), for ``secret``.
        client_certificate_path: PEM file with private key and certificate, or a PFX/PKCS#12
            file, of the app registration (``CI_CLIENT_CERTIFICATE_PATH``), for ``certificate``.
            The thumbprint is computed from the certificate.
        client_certificate_password: password of that key or PFX, if any
            (``CI_CLIENT_CERTIFICATE_PASSWORD``).
        managed_identity_client_id: client id of the user-assigned managed identity that calls
            CI, for ``managedidentity``; empty means the system-assigned identity
            (``CI_MANAGED_IDENTITY_CLIENT_ID``).
        identity_ca_bundle: dev only: CA bundle verifying ``IDENTITY_ENDPOINT`` (the simulator's
            HTTPS managed identity endpoint) (``IDENTITY_CA_BUNDLE``, shared with storage).
        subscription_key: APIM key sent as ``Ocp-Apim-Subscription-Key`` (``CI_SUBSCRIPTION_KEY``).
        authority: token authority, default ``https://login.microsoftonline.com/<tenant>``
            (``CI_AUTHORITY``).
        scope: token scope, default ``https://api.ci.ai.microsoft.com/.default`` (``CI_SCOPE``).
        workflow_path: ``manage/workflows`` (Microsoft's current docs, default) or ``workflows``
            (2021 code model) (``CI_WORKFLOW_PATH``); the refresh query follows the same form.
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
    credential: str = "secret"
    client_secret: str = field(default="", repr=False)
    client_certificate_path: str = ""
    client_certificate_password: str = field(default="", repr=False)
    managed_identity_client_id: str = ""
    identity_ca_bundle: str | None = None
    subscription_key: str = field(default="", repr=False)
    authority: str = ""
    scope: str = DEFAULT_CI_SCOPE
    workflow_path: str = DEFAULT_CI_WORKFLOW_PATH
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
    def missing_settings(self) -> tuple[str, ...]:
        """Names of the settings a CI call still needs in the chosen credential mode."""
        needed = {"CI_SUBSCRIPTION_KEY": self.subscription_key}
        if self.credential != "managedidentity":
            needed["CI_CLIENT_ID"] = self.client_id
            needed["CI_TENANT_ID or CI_AUTHORITY"] = self.tenant_id or self.authority
        if self.credential == "secret":
            needed["CI_CLIENT_SECRET"] = self.client_secret
        elif self.credential == "certificate":
            needed["CI_CLIENT_CERTIFICATE_PATH"] = self.client_certificate_path
        return tuple(name for name, value in needed.items() if not value)

    @property
    def is_configured(self) -> bool:
        """Whether the credentials needed for a call are present."""
        return not self.missing_settings


@dataclass(frozen=True)
class AuthSettings:
    """How HTTP callers authenticate.

    Attributes:
        mode: ``functionKey`` (default: the host checks a function key, one shared identity) or
            ``entra`` (every call carries an Entra ID access token for the backend's app
            registration; actions call CI on behalf of that user) (``AUTH_MODE``).
        audiences: accepted ``aud`` values, default the app registration's client id and
            ``api://<client id>`` (``AUTH_AUDIENCES``, comma-separated).
        allowed_tenants: tenant ids whose users may call, default ``CI_TENANT_ID``
            (``AUTH_ALLOWED_TENANTS``, comma-separated).
        authority_host: where tenants publish their keys and issue tokens, default the scheme and
            host of ``CI_AUTHORITY`` (``https://login.microsoftonline.com``) (``AUTH_AUTHORITY_HOST``);
            the issuer must be ``<host>/<tid>/v2.0`` and the keys are at
            ``<host>/<tid>/discovery/v2.0/keys``.
        required_scope: delegated scope the token must carry, default ``user_impersonation``
            (``AUTH_SCOPE``).
        admin_role: app role the admin endpoints require, default ``Connector.Admin``
            (``AUTH_ADMIN_ROLE``).
        ca_bundle: extra CA bundle for the keys endpoint (``CI_CA_BUNDLE``; the local simulator).
    """

    mode: str = "functionKey"
    audiences: tuple[str, ...] = ()
    allowed_tenants: tuple[str, ...] = ()
    authority_host: str = DEFAULT_CI_AUTHORITY_HOST
    required_scope: str = DEFAULT_AUTH_SCOPE
    admin_role: str = DEFAULT_AUTH_ADMIN_ROLE
    ca_bundle: str | None = None

    @property
    def entra(self) -> bool:
        """Whether callers must present Entra ID user tokens."""
        return self.mode == "entra"


def auth_mode(environ: Mapping[str, str] | None = None) -> str:
    """``AUTH_MODE`` alone (read where the function app picks its host-level auth level)."""
    raw = (os.environ if environ is None else environ).get("AUTH_MODE", "").strip()
    for mode in AUTH_MODES:
        if raw.lower() == mode.lower():
            return mode
    if raw:
        raise SettingsError(f"AUTH_MODE must be one of {', '.join(AUTH_MODES)}, got {raw!r}")
    return AUTH_MODES[0]


def _auth(env: Mapping[str, str], text: Callable[..., str], ci: CustomerInsightsSettings) -> AuthSettings:
    """The ``AUTH_*`` settings; Entra mode needs what on-behalf-of calls and token checks need."""
    mode = auth_mode(env)

    def names(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        listed = tuple(v.strip() for v in text(name).split(",") if v.strip())
        return listed or tuple(v for v in default if v)

    authority = urlsplit(ci.authority) if ci.authority else urlsplit(DEFAULT_CI_AUTHORITY_HOST)
    auth = AuthSettings(
        mode=mode,
        audiences=names("AUTH_AUDIENCES", (ci.client_id, f"api://{ci.client_id}" if ci.client_id else "")),
        allowed_tenants=tuple(t.lower() for t in names("AUTH_ALLOWED_TENANTS", (ci.tenant_id,))),
        authority_host=text("AUTH_AUTHORITY_HOST", f"{authority.scheme}://{authority.netloc}").rstrip("/"),
        required_scope=text("AUTH_SCOPE", DEFAULT_AUTH_SCOPE),
        admin_role=text("AUTH_ADMIN_ROLE", DEFAULT_AUTH_ADMIN_ROLE),
        ca_bundle=ci.ca_bundle,
    )
    if auth.entra:
        if ci.credential not in ("secret", "certificate"):
            raise SettingsError("AUTH_MODE=entra calls CI on behalf of users, which needs the app registration's "
                                "credential: CI_CREDENTIAL=secret or certificate")
        missing = [n for n, v in (("AUTH_AUDIENCES or CI_CLIENT_ID", auth.audiences),
                                  ("AUTH_ALLOWED_TENANTS or CI_TENANT_ID", auth.allowed_tenants)) if not v]
        if missing:
            raise SettingsError(f"AUTH_MODE=entra needs {', '.join(missing)}")
    return auth


MAX_DELIVERY_SECONDS = 270.0
"""Longest callback POST (connect + answer): host.json's functionTimeout of 300 s less a margin
for recording the outcome."""


@dataclass(frozen=True)
class Settings:
    """All app settings.

    Attributes:
        storage: the ``AzureWebJobsStorage`` connection, a connection string or identity-based
            (``AzureWebJobsStorage__accountName`` etc., see ``ciconnector.storage.connection``);
            None when nothing configures it (:meth:`require_storage` then names what to set).
        ci: Customer Insights API settings.
        auth: how HTTP callers authenticate (``AUTH_*``).
        instance_ids: allowlist of CI instance ids makers may subscribe to; empty = any
            (``CI_INSTANCE_IDS``, comma-separated).
        callback_allowed_hosts: dev-only ``host:port`` entries whose callback URLs skip the
            private-address check, default none (``CALLBACK_ALLOWED_HOSTS``, comma-separated).
        delivery_timeout_seconds: time to connect to a callback and send a notification, default
            15 (``DELIVERY_TIMEOUT_SECONDS``); a callback that cannot be reached in it is retried.
        delivery_response_timeout_seconds: how long a sent notification waits for the callback's
            answer, default 120 (``DELIVERY_RESPONSE_TIMEOUT_SECONDS``). The flow may already run it,
            so a slow answer is awaited rather than the notification sent again; with the connect
            time it must stay within the function timeout (at most 270 s in all).
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

        poll_interval_seconds: the time between two poll timer ticks, read from the timer's
            NCRONTAB schedule (``POLL_SCHEDULE``, default ``0 */1 * * * *``: 60 s). The timer binding
            reads the schedule itself (``%POLL_SCHEDULE%``); the poller sizes its lease from it.
    """

    storage: StorageConnection | None = None
    ci: CustomerInsightsSettings = field(default_factory=CustomerInsightsSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    instance_ids: tuple[str, ...] = ()
    callback_allowed_hosts: tuple[str, ...] = ()
    delivery_timeout_seconds: float = 15.0
    delivery_response_timeout_seconds: float = 120.0
    delivery_retry_schedule: tuple[float, ...] = DEFAULT_DELIVERY_RETRY_SCHEDULE
    disable_after_not_found: int = 3
    callback_ca_bundle: str | None = None
    connector_host: str | None = None
    connector_base_path: str = "/api"
    poll_interval_seconds: float = 60.0

    def require_storage(self) -> StorageConnection:
        """The storage connection; raises ``StorageNotConfiguredError`` (a SettingsError) when unset."""
        from .storage.connection import DEFAULT_CONNECTION, StorageNotConfiguredError, not_configured_message

        if self.storage is None:
            raise StorageNotConfiguredError(not_configured_message(DEFAULT_CONNECTION))
        return self.storage

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

        ci = _customer_insights(text, number)
        instance_ids = tuple(i.strip().lower() for i in text("CI_INSTANCE_IDS").split(",") if i.strip())

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
        delivery_timeout = number("DELIVERY_TIMEOUT_SECONDS", 15.0)
        response_timeout = number("DELIVERY_RESPONSE_TIMEOUT_SECONDS", 120.0)
        if delivery_timeout + response_timeout > MAX_DELIVERY_SECONDS:
            raise SettingsError(f"DELIVERY_TIMEOUT_SECONDS + DELIVERY_RESPONSE_TIMEOUT_SECONDS must be at most "
                                f"{MAX_DELIVERY_SECONDS:g} (the function timeout is 300 s)")
        return cls(
            storage=_storage_connection(env),
            ci=ci,
            auth=_auth(env, text, ci),
            instance_ids=instance_ids,
            callback_allowed_hosts=allowed_hosts,
            delivery_timeout_seconds=delivery_timeout,
            delivery_response_timeout_seconds=response_timeout,
            delivery_retry_schedule=schedule,
            disable_after_not_found=int(number("DELIVERY_DISABLE_AFTER_NOT_FOUND", 3, int)),
            callback_ca_bundle=text("CALLBACK_CA_BUNDLE") or None,
            connector_host=text("CONNECTOR_HOST") or None,
            connector_base_path="/" + text("CONNECTOR_BASE_PATH", "/api").strip("/"),
            poll_interval_seconds=poll_interval(text("POLL_SCHEDULE", DEFAULT_POLL_SCHEDULE)),
        )


DEFAULT_POLL_SCHEDULE = "0 */1 * * * *"


def poll_interval(schedule: str) -> float:
    """Seconds between ticks of a regular NCRONTAB ``schedule`` (six fields: second, minute, hour,
    day, month, weekday): ``*/n`` or ``n`` in the seconds, minutes or hours field with every larger
    field ``*`` (e.g. ``0 */5 * * * *`` → 300). Raises SettingsError for other shapes: the lease
    bound the README states needs a regular interval."""
    fields = schedule.split()
    if len(fields) != 6 or any(f != "*" for f in fields[3:]):
        raise SettingsError(f"POLL_SCHEDULE must be a regular six-field NCRONTAB schedule such as "
                            f"'0 */1 * * * *', got {schedule!r}")
    unit = 1.0
    for value, span in zip(fields[:3], (60, 60, 24), strict=True):
        if value.startswith("*/") and value[2:].isdigit() and 0 < int(value[2:]) <= span:
            return unit * int(value[2:])
        if value == "*":
            return unit
        if not value.isdigit():
            break
        unit *= span
    raise SettingsError(f"POLL_SCHEDULE must repeat at a regular interval (e.g. '0 */1 * * * *'), got {schedule!r}")


def _customer_insights(text: Callable[..., str], number: Callable[..., float]) -> CustomerInsightsSettings:
    """The ``CI_*`` settings, with the credential mode checked as a whole."""
    workflow_path = text("CI_WORKFLOW_PATH", DEFAULT_CI_WORKFLOW_PATH).strip("/")
    if workflow_path not in CI_WORKFLOW_PATHS:
        raise SettingsError("CI_WORKFLOW_PATH must be 'manage/workflows' (current docs) or 'workflows' (2021 spec)")
    secret, certificate = text("CI_CLIENT_SECRET"), text("CI_CLIENT_CERTIFICATE_PATH")
    password, mi_client_id = text("CI_CLIENT_CERTIFICATE_PASSWORD"), text("CI_MANAGED_IDENTITY_CLIENT_ID")
    explicit = text("CI_CREDENTIAL").lower()
    if explicit and explicit not in CI_CREDENTIALS:
        raise SettingsError(f"CI_CREDENTIAL must be one of {', '.join(CI_CREDENTIALS)}, got {explicit!r}")
    credential = explicit or ("secret" if secret else "certificate" if certificate else "secret")
    if password and not certificate:
        raise SettingsError("CI_CLIENT_CERTIFICATE_PASSWORD is set but CI_CLIENT_CERTIFICATE_PATH is not")
    if mi_client_id and credential != "managedidentity":
        raise SettingsError("CI_MANAGED_IDENTITY_CLIENT_ID applies only with CI_CREDENTIAL=managedidentity")
    if mi_client_id and not _GUID.match(mi_client_id):
        raise SettingsError(f"CI_MANAGED_IDENTITY_CLIENT_ID must be the identity's client id (a GUID), "
                            f"got {mi_client_id!r}")
    ci = CustomerInsightsSettings(
        base_url=text("CI_API_BASE_URL", DEFAULT_CI_BASE_URL).rstrip("/"),
        tenant_id=text("CI_TENANT_ID"),
        client_id=text("CI_CLIENT_ID"),
        credential=credential,
        client_secret=secret,
        client_certificate_path=certificate,
        client_certificate_password=password,
        managed_identity_client_id=mi_client_id.lower(),
        identity_ca_bundle=text("IDENTITY_CA_BUNDLE") or None,
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
    if explicit:  # an explicit mode is a statement of intent: what it needs must be there
        missing = [name for name in ci.missing_settings if name != "CI_SUBSCRIPTION_KEY"]
        if missing:
            raise SettingsError(f"CI_CREDENTIAL={explicit} needs {', '.join(missing)}")
    return ci


_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _storage_connection(env: Mapping[str, str]) -> StorageConnection | None:
    """``AzureWebJobsStorage`` resolved; None when absent (a contradictory setup raises)."""
    from .storage.connection import StorageNotConfiguredError, resolve

    try:
        return resolve(environ=env)
    except StorageNotConfiguredError:
        return None
