"""``FunctionHost``: settings, app indexing, HTTP server, queue listeners and timers put together."""
from __future__ import annotations

import logging
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

from .bindings import queue_input, timer_input
from .errors import HostError
from .functions import HTTP_TRIGGER, QUEUE_TRIGGER, TIMER_TRIGGER, FunctionSpec, index_app
from .hostconfig import HostConfig
from .http_server import FunctionsApp, HttpServer
from .invocation import InvocationResult, Invoker
from .keys import Keys
from .queues import QueueListener
from .settings import apply_to_environ, build_settings, read_local_settings, resolve
from .storage import QueueStore
from .timers import NcrontabSchedule, ScheduleMonitor, TimerListener, use_monitor

log = logging.getLogger("funchost")
ADMIN_REASON = "This function was programmatically called via the host APIs."


def _is_true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true")


class FunctionHost:
    """A local Azure Functions host for a Python v2 app (see dev/funchost/README.md)."""

    def __init__(self, root: str | os.PathLike[str], app_module: str = "function_app", port: int = 0,
                 settings: Mapping[str, str] | None = None, run_timers: bool = True,
                 state_dir: str | os.PathLike[str] | None = None, shutdown_timeout: float = 30.0) -> None:
        self.root = Path(root).resolve()
        self.app_module = app_module
        self.requested_port = port
        self.overrides = dict(settings or {})
        self.run_timers = run_timers
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.shutdown_timeout = shutdown_timeout
        self.specs: list[FunctionSpec] = []
        self.keys: Keys | None = None
        self._restore_env: Callable[[], None] | None = None
        self._invoker: Invoker | None = None
        self._server: HttpServer | None = None
        self._listeners: list[QueueListener] = []
        self._timers: list[TimerListener] = []
        self._background: ThreadPoolExecutor | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> "FunctionHost":
        """Load settings and the app, then start HTTP, queue listeners and (optionally) timers."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        settings_file, local = read_local_settings(self.root)
        # the worker finds the app through PYTHON_SCRIPT_FILE_NAME (and names it in its errors)
        overrides = {**self.overrides, "PYTHON_SCRIPT_FILE_NAME": f"{self.app_module}.py"}
        values = build_settings(local.get("Values") or {}, os.environ, overrides)
        self._restore_env = apply_to_environ(values)
        log.info("Settings: %s", settings_file or "no local settings file")
        config = HostConfig.load(self.root)
        self.specs = self._select(index_app(self.root, self.app_module), config)
        self.keys = Keys.from_settings(os.environ)
        store = QueueStore(config.queues.message_encoding)
        self._invoker = Invoker(self.specs, store)
        timers = self._build_timers()
        self._listeners = [QueueListener(spec, store, config.queues, self._invoker.invoke)
                           for spec in self.specs if spec.trigger_type == QUEUE_TRIGGER and not spec.disabled]
        self._background = ThreadPoolExecutor(max_workers=8, thread_name_prefix="funchost-admin")
        app = FunctionsApp(self.specs, config, self.keys, self._invoker, self.run_admin, self._submit)
        self._server = HttpServer(app, self.requested_port)
        self._server.start()
        for listener in self._listeners:
            listener.start()
        if self.run_timers:
            self._timers = timers
            for timer in timers:
                timer.start()
        self._log_functions(config)

    def _select(self, specs: list[FunctionSpec], config: HostConfig) -> list[FunctionSpec]:
        """Apply host.json ``functions`` and ``AzureWebJobs.<name>.Disabled`` settings."""
        if config.functions is not None:
            allowed = {name.lower() for name in config.functions}
            specs = [spec for spec in specs if spec.name.lower() in allowed]
        for spec in specs:
            spec.disabled = _is_true(os.environ.get(f"AzureWebJobs.{spec.name}.Disabled"))
        return specs

    def _build_timers(self) -> list[TimerListener]:
        monitor = ScheduleMonitor(self.state_dir / "timers" if self.state_dir else None)
        timers = []
        for spec in self.specs:
            if spec.trigger_type != TIMER_TRIGGER:
                continue
            what = f"function '{spec.name}'"
            schedule = NcrontabSchedule(resolve(str(spec.trigger.data.get("schedule", "")), what), what)
            if not spec.disabled:
                timers.append(TimerListener(spec, schedule, monitor if use_monitor(spec, schedule) else None,
                                            self._invoker_or_fail().invoke))
        return timers

    def _submit(self, job: Callable[[], Any]) -> None:
        if self._background is not None:
            self._background.submit(job)

    def stop(self) -> None:
        """Stop accepting work, finish in-flight invocations, restore the environment."""
        if self._server is not None:
            self._server.stop(self.shutdown_timeout)
            self._server = None
        for listener in self._listeners:
            listener.stop(self.shutdown_timeout)
        for timer in self._timers:
            timer.stop(self.shutdown_timeout)
        self._listeners, self._timers = [], []
        if self._background is not None:
            self._background.shutdown(wait=True)
            self._background = None
        if self._invoker is not None:
            self._invoker.wait_idle(self.shutdown_timeout)
            self._invoker.close()
            self._invoker = None
        if self._restore_env is not None:
            self._restore_env()
            self._restore_env = None

    def __enter__(self) -> "FunctionHost":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- information ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The HTTP port."""
        if self._server is None:
            raise HostError("the host is not running")
        return self._server.port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def function_key(self) -> str:
        """Host-level function key (valid for every function)."""
        return self._keys_or_fail().function_key

    @property
    def master_key(self) -> str:
        """Master key (admin level)."""
        return self._keys_or_fail().master_key

    def _keys_or_fail(self) -> Keys:
        if self.keys is None:
            raise HostError("the host is not running")
        return self.keys

    def _invoker_or_fail(self) -> Invoker:
        if self._invoker is None:
            raise HostError("the host is not running")
        return self._invoker

    def describe(self) -> list[dict[str, Any]]:
        """Name, trigger, trigger details and bindings (the worker's raw binding JSON) of every function."""
        result = []
        for spec in self.specs:
            data = spec.trigger.data
            entry: dict[str, Any] = {"name": spec.name, "trigger": spec.trigger_type,
                                     "disabled": spec.disabled,
                                     "bindings": [binding.data for binding in (spec.trigger, *spec.outputs)]}
            if spec.trigger_type == HTTP_TRIGGER:
                entry.update(route=data.get("route") or spec.name, methods=data.get("methods"),
                             authLevel=str(data.get("authLevel", "function")).lower())
            elif spec.trigger_type == TIMER_TRIGGER:
                entry["schedule"] = data.get("schedule")
            else:
                entry["queue"] = data.get("queueName")
            result.append(entry)
        return result

    def ready_info(self) -> dict[str, Any]:
        """The readiness record printed by the CLI."""
        return {"event": "funchost.ready", "pid": os.getpid(), "base_url": self.base_url,
                "function_key": self.function_key, "master_key": self.master_key,
                "functions": self.describe()}

    def _log_functions(self, config: HostConfig) -> None:
        prefix = f"/{config.route_prefix}" if config.route_prefix else ""
        lines = []
        for entry in self.describe():
            if entry["trigger"] == HTTP_TRIGGER:
                methods = ",".join(entry["methods"] or ["ALL"])
                lines.append(f"  {entry['name']}: [{methods}] {self.base_url}{prefix}/{entry['route']}")
            else:
                lines.append(f"  {entry['name']}: {entry['trigger']}")
            if entry["disabled"]:
                lines[-1] += " (disabled)"
        log.info("Host started (timers %s). Functions:\n%s", "on" if self.run_timers else "off",
                 "\n".join(lines))

    # -- invoking non-HTTP functions -----------------------------------------------------------

    def _spec(self, name: str) -> FunctionSpec:
        for spec in self.specs:
            if spec.name.lower() == name.lower():
                return spec
        raise HostError(f"no function named '{name}'")

    def run_admin(self, spec: FunctionSpec, text: str) -> InvocationResult:
        """Run a timer or queue function as ``POST /admin/functions/{name}`` does."""
        invoker = self._invoker_or_fail()
        if spec.trigger_type == TIMER_TRIGGER:
            return invoker.invoke(spec, timer_input(past_due=False, schedule_status=None), ADMIN_REASON)
        if spec.trigger_type != QUEUE_TRIGGER:
            raise HostError(f"function '{spec.name}' is not a timer or queue function")
        now = datetime.now(timezone.utc)
        message = queue_input(id=str(uuid.uuid4()), body=text.encode("utf-8"), dequeue_count=0,
                              insertion_time=now, expiration_time=now + timedelta(days=7),
                              next_visible_time=now, pop_receipt=None)
        return invoker.invoke(spec, message, ADMIN_REASON)

    def invoke(self, name: str, input: str = "") -> InvocationResult:
        """Run a timer or queue function now (in process, waits for the result)."""
        return self.run_admin(self._spec(name), input)

    def fire_timer(self, name: str) -> InvocationResult:
        """Run a timer function now with ``past_due=False`` and wait for it."""
        spec = self._spec(name)
        if spec.trigger_type != TIMER_TRIGGER:
            raise HostError(f"function '{name}' is not a timer function")
        return self.run_admin(spec, "")
