"""Index a ``FunctionApp``: functions, their trigger and bindings, checked like the Python worker."""
from __future__ import annotations

import importlib
import inspect
import json
import sys
import typing
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import azure.functions as func

from .errors import HostError

HTTP_TRIGGER, TIMER_TRIGGER, QUEUE_TRIGGER = "httpTrigger", "timerTrigger", "queueTrigger"
SUPPORTED_TRIGGERS = (HTTP_TRIGGER, TIMER_TRIGGER, QUEUE_TRIGGER)
SUPPORTED_OUTPUTS = ("http", "queue")
RETURN = "$return"
CONTEXT = "context"


@dataclass(frozen=True)
class Binding:
    """One binding of a function as in its function.json (``direction`` lower-cased)."""

    name: str
    type: str
    direction: str
    data: dict[str, Any]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Binding":
        """From one entry of ``get_function_json()['bindings']``."""
        return cls(name=str(data["name"]), type=str(data["type"]),
                   direction=str(data.get("direction", "in")).lower(), data=data)

    @property
    def is_trigger(self) -> bool:
        """Whether this is the trigger binding."""
        return self.type.endswith("Trigger")


@dataclass
class FunctionSpec:
    """A function the host can run."""

    name: str
    func: Callable[..., Any]
    trigger: Binding
    outputs: list[Binding]
    parameters: list[str]
    annotations: dict[str, Any] = field(default_factory=dict)
    disabled: bool = False

    @property
    def trigger_type(self) -> str:
        """``httpTrigger``, ``timerTrigger`` or ``queueTrigger``."""
        return self.trigger.type

    @property
    def is_async(self) -> bool:
        """Whether the user function is a coroutine function."""
        return inspect.iscoroutinefunction(self.func)

    def output(self, name: str) -> Binding | None:
        """The output binding named ``name``."""
        return next((b for b in self.outputs if b.name == name), None)


def load_app(root: Path, module_name: str) -> func.FunctionApp:
    """Import ``module_name`` from ``root`` and return its ``FunctionApp`` attribute."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if exc.name == module_name:
            raise HostError(f"app module '{module_name}' not found in {root}") from exc
        raise
    apps = [value for value in vars(module).values() if isinstance(value, func.FunctionApp)]
    if len(apps) != 1:
        raise HostError(f"module '{module_name}' must define exactly one azure.functions.FunctionApp "
                        f"(found {len(apps)})")
    return apps[0]


def _type_hints(function: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(function)
    except Exception:  # unresolvable string annotations: fall back to the raw ones
        return dict(getattr(function, "__annotations__", {}))


def _is_out_annotation(annotation: Any) -> bool:
    origin = typing.get_origin(annotation) or annotation
    return isinstance(origin, type) and issubclass(origin, func.Out)


def build_spec(function: func.Function) -> FunctionSpec:
    """A ``FunctionSpec`` from a registered function, validated like the Python worker does."""
    name = function.get_function_name() or function.get_user_function().__name__
    bindings = [Binding.from_json(b) for b in json.loads(function.get_function_json())["bindings"]]
    triggers = [b for b in bindings if b.is_trigger]
    if len(triggers) != 1:
        raise HostError(f"function '{name}' must have exactly one trigger")
    trigger = triggers[0]
    if trigger.type not in SUPPORTED_TRIGGERS:
        raise HostError(f"function '{name}': trigger '{trigger.type}' is not supported by the local host")
    outputs = [b for b in bindings if not b.is_trigger and b.direction == "out"]
    others = [b for b in bindings if not b.is_trigger and b.direction != "out"]
    unsupported = others + [b for b in outputs if b.type not in SUPPORTED_OUTPUTS]
    if unsupported:
        binding = unsupported[0]
        raise HostError(f"function '{name}': {binding.direction} binding '{binding.name}' of type "
                        f"'{binding.type}' is not supported by the local host")
    http_outputs = [b for b in outputs if b.type == "http"]
    if len(http_outputs) != (1 if trigger.type == HTTP_TRIGGER else 0):
        raise HostError(f"function '{name}': an HTTP trigger needs exactly one HTTP output binding "
                        "and other triggers none")
    user_function = function.get_user_function()
    parameters = list(inspect.signature(user_function).parameters)
    hints = _type_hints(user_function)
    bound = {b.name for b in bindings if b.name != RETURN}
    unbound = set(parameters) - bound - {CONTEXT}
    if unbound:
        raise HostError(f"function '{name}': parameters {sorted(unbound)} are declared in Python but "
                        "not in the function decorators")
    missing = bound - set(parameters)
    if missing:
        raise HostError(f"function '{name}': bindings {sorted(missing)} are declared in the "
                        "function decorators but not in Python")
    for binding in outputs:
        if binding.name != RETURN and binding.name in hints and not _is_out_annotation(hints[binding.name]):
            raise HostError(f"function '{name}': binding '{binding.name}' has the 'out' direction but "
                            "its annotation is not azure.functions.Out")
    return FunctionSpec(name=name, func=user_function, trigger=trigger, outputs=outputs,
                        parameters=parameters, annotations=hints)


_INDEXED: weakref.WeakKeyDictionary[func.FunctionApp, list[func.Function]] = weakref.WeakKeyDictionary()


def index_app(app: func.FunctionApp) -> list[FunctionSpec]:
    """All functions of ``app`` (indexed once per app object: ``get_functions`` fails when repeated)."""
    functions = _INDEXED.get(app)
    if functions is None:
        try:
            functions = _INDEXED[app] = app.get_functions()
        except ValueError as exc:
            raise HostError(str(exc)) from exc
    return [build_spec(function) for function in functions]
