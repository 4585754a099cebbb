"""Run one function invocation: bind arguments, call, collect and flush outputs, log."""
from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bindings import InvocationContext, Out, queue_bodies
from .functions import CONTEXT, RETURN, FunctionSpec
from .settings import resolve
from .storage import QueueStore, check_queue_name, connection_string

log = logging.getLogger("funchost.invocation")


@dataclass
class InvocationResult:
    """Outcome of one invocation; ``outputs`` maps binding names (and ``$return``) to values."""

    invocation_id: str
    succeeded: bool
    outputs: dict[str, Any] = field(default_factory=dict)
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

    def __init__(self, specs: list[FunctionSpec], root: Path, store: QueueStore) -> None:
        self.root = root
        self.store = store
        self._queue_targets: dict[tuple[str, str], tuple[str, str]] = {}
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

    def invoke(self, spec: FunctionSpec, trigger_value: Any, reason: str) -> InvocationResult:
        """Run ``spec`` with ``trigger_value`` bound to its trigger parameter."""
        invocation_id = str(uuid.uuid4())
        with self._idle:
            self._inflight += 1
        log.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", spec.name, reason, invocation_id)
        started = time.perf_counter()
        result = InvocationResult(invocation_id=invocation_id, succeeded=False)
        try:
            result.outputs = self._call(spec, trigger_value, invocation_id)
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

    def _call(self, spec: FunctionSpec, trigger_value: Any, invocation_id: str) -> dict[str, Any]:
        outs = {b.name: Out() for b in spec.outputs if b.name != RETURN}
        kwargs: dict[str, Any] = {}
        for name in spec.parameters:
            if name == spec.trigger.name:
                kwargs[name] = trigger_value
            elif name in outs:
                kwargs[name] = outs[name]
            elif name == CONTEXT:
                kwargs[name] = InvocationContext(invocation_id, spec.name, str(self.root))
        value = spec.func(**kwargs)
        if spec.is_async:
            value = self._loop.run(value)
        outputs = {name: out.get() for name, out in outs.items()}
        if spec.output(RETURN) is not None:
            outputs[RETURN] = value
        return outputs

    def _flush_queue_outputs(self, spec: FunctionSpec, outputs: dict[str, Any]) -> None:
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

