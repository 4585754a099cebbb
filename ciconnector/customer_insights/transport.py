"""HTTP pipeline for CI calls: auth headers, timeouts, retries and error mapping."""
from __future__ import annotations

import json
import logging
import time
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from ..settings import CustomerInsightsSettings
from .auth import TokenProvider, TokenSource
from .ci_errors import (
    AuthenticationError,
    BadRequestError,
    CustomerInsightsError,
    NotFoundError,
    PermissionDeniedError,
    ServiceError,
    ThrottledError,
    UnexpectedResponseError,
)
from .retry import RETRYABLE_STATUSES, RetryPolicy, parse_retry_after

logger = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


def build_session(settings: CustomerInsightsSettings, *, pool_size: int = 16) -> requests.Session:
    """A pooled session; with ``ca_bundle`` set it trusts that bundle and ignores ``REQUESTS_CA_BUNDLE``."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    if settings.ca_bundle:
        session.verify = settings.ca_bundle
        session.trust_env = False
    return session


class Transport:
    """Sends one logical CI call, retrying transient failures within the policy's budget."""

    def __init__(self, settings: CustomerInsightsSettings, *, session: requests.Session | None = None,
                 policy: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep,
                 tokens: TokenSource | None = None):
        self._settings = settings
        self._session = session or build_session(settings)
        self._delegated = tokens is not None
        self._tokens: TokenSource = tokens or TokenProvider(settings, self._session)
        self._policy = policy or RetryPolicy(max_attempts=settings.max_attempts,
                                             max_total_wait=settings.max_retry_wait_seconds)
        self._sleep = sleep
        self._origin = urlsplit(settings.base_url)._replace(path="", query="", fragment="").geturl()

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` (relative to the API base URL)."""
        return f"{self._settings.base_url}/{path.lstrip('/')}"

    def same_origin(self, url: str) -> bool:
        """Whether ``url`` points at the configured API host (so it may receive our token)."""
        parts = urlsplit(url)
        return parts._replace(path="", query="", fragment="").geturl() == self._origin

    def request(self, method: str, url: str, *, params: Mapping[str, Any] | None = None,
                body: Any = None) -> Any:
        """Send the call and return its decoded JSON (None for an empty body)."""
        method = method.upper()
        waited = 0.0
        attempt = 0
        refreshed_token = False
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                response = self._send(method, url, params, body)
            except (requests.ConnectionError, requests.Timeout) as exc:
                read_timeout = isinstance(exc, requests.ReadTimeout)
                failure: CustomerInsightsError = ServiceError(
                    f"CI {'timed out' if isinstance(exc, requests.Timeout) else 'unreachable'} "
                    f"on {method} {urlsplit(url).path}")
                retryable = not read_timeout or method in IDEMPOTENT_METHODS
            else:
                status = response.status_code
                if status == 401 and not refreshed_token:
                    refreshed_token = True
                    self._tokens.invalidate()
                    attempt -= 1
                    continue
                if status < 300:
                    return _decode(response)
                failure = _error_for(response, method, url, delegated=self._delegated)
                retryable = status in RETRYABLE_STATUSES
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if not retryable or attempt >= self._policy.max_attempts:
                raise failure
            delay = self._policy.delay(attempt, retry_after)
            if waited + delay > self._policy.max_total_wait:
                raise failure
            logger.info("CI call %s %s failed (%s); retry %d in %.1fs", method, urlsplit(url).path,
                        failure.status or type(failure).__name__, attempt, delay)
            self._sleep(delay)
            waited += delay

    def _send(self, method: str, url: str, params: Mapping[str, Any] | None, body: Any) -> requests.Response:
        headers = {
            "Authorization": f"Bearer {self._tokens.token()}",
            "Ocp-Apim-Subscription-Key": self._settings.subscription_key,
            "Accept": "application/json",
        }
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        return self._session.request(method, url, params=params, data=data, headers=headers,
                                     timeout=self._settings.timeout_seconds, allow_redirects=False)


def _decode(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise UnexpectedResponseError(
            f"CI answered {response.status_code} with a body that is not JSON", status=response.status_code) from None


def _error_for(response: requests.Response, method: str, url: str, *, delegated: bool = False) -> CustomerInsightsError:
    """Map a non-2xx answer to a typed error carrying CI's own error code and message.

    A 403 to a call made on behalf of a user is that user's CI role refusing it
    (``PermissionDeniedError``); to the app's own identity it means the app lacks access.
    """
    status = response.status_code
    code, message = _error_details(response)
    where = f"{method} {urlsplit(url).path}"
    text = f"CI answered {status} on {where}" + (f": {message}" if message else "")
    if status == 403 and delegated:
        return PermissionDeniedError(text, status=status, error_code=code)
    if status in (401, 403):
        return AuthenticationError(text, status=status, error_code=code)
    if status == 404:
        return NotFoundError(text, status=status, error_code=code)
    if status == 429:
        return ThrottledError(text, retry_after=parse_retry_after(response.headers.get("Retry-After")),
                              error_code=code)
    if status in (400, 406, 409, 413, 415, 422):
        return BadRequestError(text, status=status, error_code=code)
    if status >= 500:
        return ServiceError(text, status=status, error_code=code)
    return UnexpectedResponseError(text, status=status, error_code=code)


def _error_details(response: requests.Response) -> tuple[str | None, str | None]:
    """``errorCode`` and ``message`` from an ApiErrorResult or ODataError body, if any."""
    try:
        body = response.json()
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    if isinstance(body.get("error"), dict):
        body = body["error"]
    code = body.get("errorCode") or body.get("code")
    message = body.get("message")
    return (code if isinstance(code, str) else None), (message[:300] if isinstance(message, str) else None)
