"""The host's half of the bindings: trigger data as the Functions host sends it, outputs as it reads them.

Trigger values leave here as the messages the Functions host sends to the worker (``TypedData``
and trigger metadata); the worker library turns them into ``func.HttpRequest``,
``func.QueueMessage`` and ``func.TimerRequest`` (worker.py). Output values come back as the
worker encoded them (its Datums); this module turns them into what the host does with them: an
HTTP response or queue messages.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from azure_functions_runtime.bindings.datumdef import Datum
from werkzeug.wrappers import Request

from .worker import to_typed_data
from .worker_messages import RpcHttp, TypedData


@dataclass(frozen=True)
class TriggerInput:
    """A trigger value and its trigger metadata, as the host puts them in an InvocationRequest."""

    data: TypedData
    metadata: dict[str, TypedData] = field(default_factory=dict)


def http_input(request: Request, route_params: dict[str, str]) -> TriggerInput:
    """An HTTP request as ``RpcHttp``: repeated headers and query values joined by commas, raw body.

    No trigger metadata: the worker declares ``RpcHttpTriggerMetadataRemoved``.
    """
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    query = {key: ",".join(request.args.getlist(key)) for key in request.args}
    return TriggerInput(TypedData(http=RpcHttp(method=request.method, url=request.url, headers=headers,
                                               body=TypedData(bytes=request.get_data()),
                                               params=dict(route_params), query=query)))


def _json(value: Any) -> TypedData:
    return TypedData(json=json.dumps(value))


def _time(moment: datetime | None) -> TypedData | None:
    return None if moment is None else _json(moment.isoformat())


def queue_input(*, id: str, body: bytes, dequeue_count: int, insertion_time: datetime | None,
                expiration_time: datetime | None, next_visible_time: datetime | None,
                pop_receipt: str | None) -> TriggerInput:
    """A queue message: its text (bytes when not UTF-8) and the queue trigger's metadata.

    Strings travel as ``string``, the dequeue count and times as JSON, as the host serializes them.
    """
    try:
        data = TypedData(string=body.decode("utf-8"))
    except UnicodeDecodeError:
        data = TypedData(bytes=body)
    metadata = {"Id": TypedData(string=id), "DequeueCount": _json(dequeue_count),
                "InsertionTime": _time(insertion_time), "ExpirationTime": _time(expiration_time),
                "NextVisibleTime": _time(next_visible_time),
                "PopReceipt": None if pop_receipt is None else TypedData(string=pop_receipt)}
    return TriggerInput(data, {key: value for key, value in metadata.items() if value is not None})


def timer_input(*, past_due: bool, schedule_status: dict[str, str] | None) -> TriggerInput:
    """A timer firing: the host's JSON (``Schedule``, ``ScheduleStatus`` or null, ``IsPastDue``)."""
    return TriggerInput(_json({"Schedule": {"AdjustForDST": True}, "ScheduleStatus": schedule_status,
                               "IsPastDue": past_due}))


@dataclass(frozen=True)
class HttpResult:
    """What an HTTP output becomes on the wire."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def http_result(datum: Datum | None) -> HttpResult:
    """The response for the worker's encoding of an HTTP output (an unset output: empty 204).

    Read from the worker's ``http`` Datum itself rather than its ``RpcHttp``, so cookies need no
    cookie messages: each ``Set-Cookie`` the function set is written back as a header.
    """
    if datum is None:
        return HttpResult(204, [], b"")
    if datum.type == "string":
        return HttpResult(200, [("Content-Type", "text/plain; charset=utf-8")], datum.value.encode("utf-8"))
    value = datum.value
    headers = [(name, header.value) for name, header in value["headers"].items()]
    for cookie in value.get("cookies") or []:
        headers.extend(("Set-Cookie", morsel.OutputString()) for morsel in cookie.values())
    return HttpResult(int(value["status_code"].value), headers, value["body"].value or b"")


def _message_body(item: Any) -> bytes:
    if isinstance(item, str):
        return item.encode("utf-8")
    if isinstance(item, dict) and isinstance(item.get("body"), str):  # a func.QueueMessage
        return item["body"].encode("utf-8")
    return json.dumps(item).encode("utf-8")


def queue_bodies(datum: Datum | None) -> list[bytes]:
    """The messages for the worker's encoding of a queue output (a JSON array: one message each)."""
    if datum is None:
        return []
    typed = to_typed_data(datum)
    kind = typed.WhichOneof("data") if typed is not None else None
    if typed is None or kind is None:
        return []
    if kind == "bytes":
        return [typed.bytes]
    if kind == "json":
        value = json.loads(typed.json)
        return [_message_body(item) for item in value] if isinstance(value, list) else [_message_body(value)]
    return [str(getattr(typed, kind)).encode("utf-8")]
