"""The real Python worker library (``azure_functions_runtime``), driven the way the Functions host drives it.

The local host must never be a second opinion about what Azure accepts: an app it starts is an app
the worker loads, and an app the worker rejects does not start, with the worker's own message.
So indexing runs the worker's loader (``loader.index_function_app`` and
``loader.process_indexed_function`` into a ``functions.Registry``), and an invocation follows the
worker's ``handle_event.invocation_request`` step by step with the worker's own pieces: inputs
unpacked and decoded by ``bindings.meta.from_incoming_proto``, the context from
``bindings.context.get_context``, ``Out`` objects from ``bindings.out``, sync functions run by
``utils.executor.run_sync_func`` and outputs encoded by ``bindings.meta.get_datum``. That function
itself is not called: it is a gRPC coroutine bound to module globals (one registry, the protos
module, a thread pool) and reports failures only as serialized text.
"""
from __future__ import annotations

import sys
import weakref
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Coroutine

from azure_functions_runtime import loader
from azure_functions_runtime.bindings import meta
from azure_functions_runtime.bindings.context import get_context
from azure_functions_runtime.bindings.datumdef import Datum, datum_as_proto
from azure_functions_runtime.bindings.out import Out
from azure_functions_runtime.functions import FunctionInfo, Registry
from azure_functions_runtime.utils.executor import execute_async, run_sync_func
from azure_functions_runtime.utils.tracing import serialize_exception
from azure_functions_runtime.utils.validators import validate_script_file_name

from . import worker_messages
from .errors import HostError

RETURN = "$return"

# index_function_app ends with app.get_functions(), which fails when called twice on one app (its
# duplicate-name check remembers earlier calls); in one process a module is imported once, so its
# indexed functions are kept per module object.
_INDEXED: weakref.WeakKeyDictionary[ModuleType, list[Any]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class IndexedFunction:
    """One function as the worker reports it to the host (metadata) and keeps it (FunctionInfo)."""

    metadata: worker_messages.RpcFunctionMetadata
    info: FunctionInfo


def _index_function_app(script: Path) -> list[Any]:
    module = sys.modules.get(script.stem)
    functions = _INDEXED.get(module) if module is not None else None
    if functions is None:
        functions = loader.index_function_app(str(script))
        _INDEXED[sys.modules[script.stem]] = functions
    return functions


def index(root: Path, script_file: str) -> list[IndexedFunction]:
    """Index ``root/script_file`` as the worker's ``load_function_metadata`` does.

    The worker imports the module by name, so ``root`` goes first on ``sys.path`` (the real worker
    runs in the app directory). Whatever the worker raises becomes a ``HostError`` carrying the
    worker's report of it (``serialize_exception``: "FunctionLoadError: cannot load the ...").
    """
    meta.load_binding_registry()
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    registry = Registry()
    try:
        validate_script_file_name(script_file)
        functions = _index_function_app(root / script_file)
        metadata, _ = loader.process_indexed_function(worker_messages, registry, functions or [], str(root))
    except Exception as exc:
        report = serialize_exception(exc, worker_messages)
        raise HostError(f"the Python worker cannot load the app: {report.message}") from exc
    return [IndexedFunction(m, registry.get_function(m.function_id)) for m in metadata]


def invoke(info: FunctionInfo, request: worker_messages.InvocationRequest,
           run_async: Callable[[Coroutine[Any, Any, Any]], Any]) -> dict[str, Datum]:
    """Run one invocation as ``handle_event.invocation_request`` does; the encoded outputs.

    Returns the worker's output Datums by binding name (``$return`` for the return value; outputs
    left unset are absent). Raises whatever the function or a conversion raises, as the worker
    would report it as a failed invocation.
    """
    context = get_context(request, info.name, info.directory)
    args: dict[str, Any] = {}
    for binding in request.input_data:
        type_info = info.input_types[binding.name]
        metadata = request.trigger_metadata if meta.is_trigger_binding(type_info.binding_name) else None
        args[binding.name] = meta.from_incoming_proto(
            type_info.binding_name, binding, trigger_metadata=metadata, pytype=type_info.pytype,
            function_name=info.name, is_deferred_binding=type_info.deferred_bindings_enabled)
    context.thread_local_storage.invocation_id = request.invocation_id
    if info.requires_context:
        args["context"] = context
    for name in info.output_types:
        args[name] = Out()
    if info.is_async:
        result = run_async(execute_async(info.func, args))
    else:
        result = run_sync_func(request.invocation_id, context, info.func, args)
    if result is not None and not info.has_return:
        raise RuntimeError(f"function {info.name!r} without a $return binding returned a non-None value")
    outputs = {}
    for name, type_info in info.output_types.items():
        value = args[name].get()
        if value is not None:
            outputs[name] = meta.get_datum(type_info.binding_name, value, type_info.pytype)
    if info.return_type is not None:
        outputs[RETURN] = meta.get_datum(info.return_type.binding_name, result, info.return_type.pytype)
    return outputs


def to_typed_data(datum: Datum) -> worker_messages.TypedData | None:
    """An output Datum as the worker sends it to the host (``datum_as_proto``; not for ``http``)."""
    return datum_as_proto(datum, worker_messages)
