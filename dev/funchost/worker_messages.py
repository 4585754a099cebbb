"""Stand-in for the generated ``FunctionRpc_pb2`` module the Python worker library expects as ``protos``.

The worker library (``azure_functions_runtime``) receives the host's gRPC message module as an
argument: the real Functions host ships ``FunctionRpc_pb2`` (generated from
azure-functions-language-worker-protobuf) with the proxy worker, and the library package does not
include it. The local host does not speak gRPC, so it hands the library this module instead, and
builds invocation messages with it the way the Functions host does. It holds only what the library
touches: indexing (``loader.process_indexed_function``, ``functions.Registry``), unpacking inputs
(``bindings.meta.from_incoming_proto``, ``datumdef.Datum.from_typed_data``), the invocation
context (``bindings.context.get_context``), packing outputs (``datumdef.datum_as_proto``, except
``http``, which the host reads from the worker's Datum so no cookie messages are needed) and error
reports (``utils.tracing.serialize_exception``). Messages are plain classes keeping their keyword
fields, with protobuf's rule that an unset or ``None`` field reads as its default; enum values are
protobuf's, because the library compares them with the ``int`` directions and data types of
``azure.functions`` bindings.
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, ClassVar


class _Message:
    """A protobuf-like message: declared fields only, ``None`` meaning "unset" (the default)."""

    FIELDS: ClassVar[dict[str, Any]] = {}

    if TYPE_CHECKING:  # fields are set from FIELDS at run time, as protobuf messages have them
        def __getattr__(self, name: str) -> Any: ...

    def __init__(self, **fields: Any) -> None:
        unknown = set(fields) - set(self.FIELDS)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no fields {sorted(unknown)}")
        for name, default in self.FIELDS.items():
            value = fields.get(name)
            setattr(self, name, copy.copy(default) if value is None else value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class BindingInfo(_Message):
    """``BindingInfo``: a binding's type, direction (``Direction`` enum) and data type (``DataType``)."""

    FIELDS = {"type": "", "direction": 0, "data_type": 0}
    out, inout = 1, 2  # Direction (in = 0)
    undefined = 0  # DataType


class RpcRetryOptions(_Message):
    """``RpcRetryOptions``: an ``app.retry`` policy of a function."""

    FIELDS = {"max_retry_count": 0, "retry_strategy": "", "delay_interval": None,
              "minimum_interval": None, "maximum_interval": None}


class RpcFunctionMetadata(_Message):
    """``RpcFunctionMetadata``: what the worker reports to the host for one indexed function."""

    FIELDS = {"name": "", "function_id": "", "managed_dependency_enabled": False, "directory": "",
              "script_file": "", "entry_point": "", "is_proxy": False, "language": "",
              "bindings": {}, "raw_bindings": [], "retry_options": None, "properties": {}}


class _OneOf(_Message):
    """A message whose fields form one protobuf ``oneof``: at most one is set."""

    def WhichOneof(self, group: str) -> str | None:  # noqa: N802 (protobuf's name)
        """The name of the field that is set (this module's messages have one oneof group each)."""
        return next((name for name, value in vars(self).items() if value is not None), None)


class TypedData(_OneOf):
    """``TypedData``: one value passed between host and worker (the ``data`` oneof)."""

    FIELDS = {"string": None, "bytes": None, "json": None, "int": None, "double": None, "http": None}


class RpcHttp(_Message):
    """``RpcHttp``: an HTTP request as the host passes it to an HTTP trigger."""

    FIELDS = {"method": "", "url": "", "headers": {}, "body": None, "params": {}, "query": {}}


class ParameterBinding(_Message):
    """``ParameterBinding``: one input value of an invocation (``rpc_data`` oneof: ``data``)."""

    FIELDS = {"name": "", "data": None}

    def WhichOneof(self, group: str) -> str | None:  # noqa: N802 (protobuf's name)
        """``data`` when a value is set (``name`` is not part of the oneof)."""
        return "data" if self.data is not None else None


class RpcTraceContext(_Message):
    """``RpcTraceContext``: W3C trace context of an invocation (empty locally)."""

    FIELDS = {"trace_parent": "", "trace_state": "", "attributes": {}}


class RetryContext(_Message):
    """``RetryContext``: retry state of an invocation (no retry policies run locally)."""

    FIELDS = {"retry_count": 0, "max_retry_count": 0, "exception": None}


class InvocationRequest(_Message):
    """``InvocationRequest``: one invocation, as the host sends it to the worker."""

    FIELDS = {"invocation_id": "", "function_id": "", "input_data": [], "trigger_metadata": {},
              "trace_context": RpcTraceContext(), "retry_context": RetryContext()}


class RpcException(_Message):
    """``RpcException``: how the worker reports a failure (message and stack trace)."""

    FIELDS = {"message": "", "stack_trace": ""}
