"""Run one invocation through the worker library, flush its queue outputs, log like the host.

The host's part: an ``InvocationRequest`` carrying the trigger input, the log lines, putting queue
outputs after success, and waiting for in-flight invocations. The call itself (argument decoding,
context, ``Out`` objects, output encoding) is the worker's (worker.invoke).
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from azure_functions_runtime.bindings.datumdef import Datum

from ciconnector.storage.connection import StorageConnection

from . import worker
from .bindings import TriggerInput, queue_bodies
from .functions import FunctionSpec
from .settings import resolve
from .storage import QueueStore, check_queue_name, connection_string
from .worker_messages import InvocationRequest, ParameterBinding

log = logging.getLogger("funchost.invocation")


@dataclass
class InvocationResult:
    """Outcome of one invocation; ``outputs`` maps binding names (and ``$return``) to the worker's
    encoding of the values set (Datums)."""

    invocation_id: str
    succeeded: bool
    outputs: dict[str, Datum] = field(default_factory=dict)
    error: BaseException | None = None
    duration_ms: float = 0.0


class _EventLoop:
    """One background event loop for ``async def`` functions (as the Python worker has)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def run(self, coroutine: Any) -> Any:
        """Run ``coroutine`` on the loop and wait for its result."""
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name="funchost-async", daemon=True).start()
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def close(self) -> None:
        """Stop the loop."""
        with self._lock:
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._loop = None


class Invoker:
    """Invokes functions and flushes their queue outputs after success."""

    def __init__(self, specs: list[FunctionSpec], store: QueueStore) -> None:
        self.store = store
        self._queue_targets: dict[tuple[str, str], tuple[StorageConnection, str]] = {}
        for spec in specs:
            for binding in spec.outputs:
                if binding.type == "queue":
                    what = f"function '{spec.name}' output '{binding.name}'"
                    queue = check_queue_name(resolve(str(binding.data.get("queueName", "")), what), what)
                    self._queue_targets[(spec.name, binding.name)] = (
                        connection_string(binding.data.get("connection")), queue)
        self._loop = _EventLoop()
        self._inflight = 0
        self._idle = threading.Condition()

    def invoke(self, spec: FunctionSpec, trigger: TriggerInput, reason: str) -> InvocationResult:
        """Run ``spec`` with ``trigger`` as the value of its trigger binding."""
        invocation_id = str(uuid.uuid4())
        with self._idle:
            self._inflight += 1
        log.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", spec.name, reason, invocation_id)
        started = time.perf_counter()
        result = InvocationResult(invocation_id=invocation_id, succeeded=False)
        try:
            request = InvocationRequest(invocation_id=invocation_id, function_id=spec.metadata.function_id,
                                        input_data=[ParameterBinding(name=spec.trigger.name, data=trigger.data)],
                                        trigger_metadata=trigger.metadata)
            result.outputs = worker.invoke(spec.info, request, self._loop.run)
            self._flush_queue_outputs(spec, result.outputs)
            result.succeeded = True
        except Exception as exc:  # a function failure must never take the host down
            result.error = exc
        finally:
            result.duration_ms = (time.perf_counter() - started) * 1000
            with self._idle:
                self._inflight -= 1
                self._idle.notify_all()
        if result.succeeded:
            log.info("Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)",
                     spec.name, invocation_id, result.duration_ms)
        else:
            log.error("Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms)", spec.name,
                      invocation_id, result.duration_ms, exc_info=result.error)
        return result

    def _flush_queue_outputs(self, spec: FunctionSpec, outputs: dict[str, Datum]) -> None:
        for binding in spec.outputs:
            if binding.type == "queue":
                connection, queue = self._queue_targets[(spec.name, binding.name)]
                for body in queue_bodies(outputs.get(binding.name)):
                    self.store.send(connection, queue, body)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no invocation runs; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._inflight == 0, timeout)

    def close(self) -> None:
        """Release the async loop."""
        self._loop.close()

