"""Conversions between trigger data, Python parameters and output values (Python worker rules)."""
from __future__ import annotations

import collections.abc
import threading
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from azure.functions.queue import QueueMessage


class Out(func.Out[Any]):
    """The object passed for an output binding parameter."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        """Set the output value."""
        self._value = val

    def get(self) -> Any:
        """The output value (None when never set)."""
        return self._value


class _TraceContext(func._abc.TraceContext):
    trace_parent, trace_state, attributes = "", "", {}


class _RetryContext(func._abc.RetryContext):
    retry_count, max_retry_count, exception = 0, 0, None  # type: ignore[assignment]


class InvocationContext(func.Context):
    """``context`` parameter: invocation id, function name and directory."""

    _local = threading.local()

    def __init__(self, invocation_id: str, function_name: str, function_directory: str) -> None:
        self._invocation_id = invocation_id
        self._function_name = function_name
        self._function_directory = function_directory

    @property
    def invocation_id(self) -> str:
        """Invocation id (a UUID)."""
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        """Thread-local storage shared by invocations on the thread."""
        return self._local

    @property
    def function_name(self) -> str:
        """Function name."""
        return self._function_name

    @property
    def function_directory(self) -> str:
        """The app root."""
        return self._function_directory

    @property
    def trace_context(self) -> func._abc.TraceContext:
        """An empty trace context."""
        return _TraceContext()

    @property
    def retry_context(self) -> func._abc.RetryContext:
        """An empty retry context."""
        return _RetryContext()


def queue_argument(message: QueueMessage, annotation: Any) -> Any:
    """A queue trigger value for a parameter annotated with ``annotation``."""
    if annotation is str:
        return message.get_body().decode("utf-8")
    if annotation is bytes:
        return message.get_body()
    return message


@dataclass(frozen=True)
class HttpResult:
    """What an HTTP output value becomes on the wire."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def http_result(value: Any) -> HttpResult:
    """An HTTP output value (HttpResponse, str, None) as status, headers and body."""
    if value is None:
        return HttpResult(204, [], b"")
    if isinstance(value, str):
        return HttpResult(200, [("Content-Type", "text/plain; charset=utf-8")], value.encode("utf-8"))
    if not isinstance(value, func.HttpResponse):
        raise TypeError(f"HTTP output must be an azure.functions.HttpResponse or str, not "
                        f"{type(value).__name__}")
    headers = list(value.headers.items())  # werkzeug Headers: repeated names (Set-Cookie) kept
    if not any(name.lower() == "content-type" for name, _ in headers):
        mimetype = value.mimetype
        headers.append(("Content-Type", f"{mimetype}; charset={value.charset}"
                        if mimetype.startswith("text/") else mimetype))
    return HttpResult(value.status_code, headers, value.get_body() or b"")


def queue_bodies(value: Any) -> list[bytes]:
    """The messages a queue output value stands for (str, bytes, QueueMessage or a list)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value.encode("utf-8")]
    if isinstance(value, bytes):
        return [value]
    if isinstance(value, func.QueueMessage):
        return [value.get_body()]
    if isinstance(value, collections.abc.Iterable) and not isinstance(value, collections.abc.Mapping):
        bodies: list[bytes] = []
        for item in value:
            if not isinstance(item, (str, func.QueueMessage)):
                raise TypeError(f"invalid data type in output queue message list: {type(item).__name__}")
            bodies.extend(queue_bodies(item))
        return bodies
    raise TypeError(f"queue output must be str, bytes, QueueMessage or a list of them, not "
                    f"{type(value).__name__}")
