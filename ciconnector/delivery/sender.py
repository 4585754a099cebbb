"""POSTs one notification to a callback URL and reports what happened, without leaking the URL."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

import requests

from ..callback_policy import is_allowed_host, is_blocked_address
from ..customer_insights.retry import parse_retry_after
from .guarded_http import guarded_session


@dataclass(frozen=True)
class CallbackAnswer:
    """The outcome of one POST: a status code, or an error kind when no answer arrived."""

    status_code: int | None
    error: str | None = None
    retry_after: float | None = None


class CallbackSender:
    """Sends notifications: JSON body, timeouts, no redirects, idempotency headers on every attempt.

    ``timeout`` bounds connecting and sending; ``response_timeout`` (default: the same) bounds the
    wait for the answer once the notification was sent.

    Headers follow Standard Webhooks: ``webhook-id`` (the event id, the same on every attempt),
    ``webhook-timestamp``; ``Idempotency-Key`` carries the event id too.
    """

    def __init__(self, *, timeout: float, response_timeout: float | None = None, allowed_hosts: Iterable[str] = (),
                 ca_bundle: str | None = None):
        allowed = tuple(allowed_hosts)
        # (connect, read): a callback that cannot be reached fails fast; one that has the notification
        # is given time to answer, since sending it again while it works would make a second copy
        self._timeout = (timeout, timeout if response_timeout is None else response_timeout)
        self._session = guarded_session(
            lambda host, port, address: is_allowed_host(allowed, host, port) or not is_blocked_address(str(address)),
            ca_bundle=ca_bundle)

    def post(self, url: str, notification: Mapping[str, Any], *, event_id: str) -> CallbackAnswer:
        headers = {"Content-Type": "application/json", "webhook-id": event_id, "Idempotency-Key": event_id,
                   "webhook-timestamp": str(int(time.time())), "User-Agent": "ci-connector-backend"}
        try:
            response = self._session.post(url, data=json.dumps(notification).encode(), headers=headers,
                                          timeout=self._timeout, allow_redirects=False)
        except requests.ConnectTimeout:
            return CallbackAnswer(None, "connect timeout")
        except requests.Timeout:
            return CallbackAnswer(None, f"no answer within {self._timeout[1]:g} s")
        except requests.ConnectionError as exc:
            return CallbackAnswer(None, _connection_error(exc, urlsplit(url).hostname or ""))
        except requests.RequestException as exc:
            return CallbackAnswer(None, type(exc).__name__)
        response.close()
        return CallbackAnswer(response.status_code,
                              retry_after=parse_retry_after(response.headers.get("Retry-After")))


def _connection_error(exc: requests.ConnectionError, host: str) -> str:
    """A short description naming the host only (exception texts quote the URL with its ``sig``)."""
    text = str(exc)
    if "forbidden addresses" in text:
        return f"{host} resolves only to forbidden addresses"
    if "cannot resolve" in text or "Name or service not known" in text:
        return f"cannot resolve {host}"
    if "SSLError" in text or isinstance(exc, requests.exceptions.SSLError):
        return f"TLS handshake with {host} failed"
    return f"cannot connect to {host}"
