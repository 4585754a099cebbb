"""The app's functions as the Python worker indexes them, and the checks of what this host can run.

Whether an app loads is the worker's verdict (see worker.py): parameters versus bindings, ``Out``
annotations, return annotations, directions and the single ``FunctionApp`` are all checked there,
with the worker's messages. This module only adds what the worker does not check but this host
cannot run: triggers other than HTTP, timer and queue, outputs other than HTTP and queue, input
bindings, and HTTP outputs anywhere but once on an HTTP-triggered function.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure_functions_runtime.functions import FunctionInfo

from . import worker
from .errors import HostError
from .worker_messages import RpcFunctionMetadata

HTTP_TRIGGER, TIMER_TRIGGER, QUEUE_TRIGGER = "httpTrigger", "timerTrigger", "queueTrigger"
SUPPORTED_TRIGGERS = (HTTP_TRIGGER, TIMER_TRIGGER, QUEUE_TRIGGER)
SUPPORTED_OUTPUTS = ("http", "queue")


@dataclass(frozen=True)
class Binding:
    """One binding: a raw binding JSON of the worker's metadata (``direction`` lower-cased)."""

    name: str
    type: str
    direction: str
    data: dict[str, Any]

    @classmethod
    def from_json(cls, raw: str) -> "Binding":
        """From one entry of ``RpcFunctionMetadata.raw_bindings``."""
        data = json.loads(raw)
        return cls(name=str(data["name"]), type=str(data["type"]),
                   direction=str(data.get("direction", "in")).lower(), data=data)

    @property
    def is_trigger(self) -> bool:
        """Whether this is the trigger binding (the Functions host's rule: the type ends in "Trigger")."""
        return self.type.lower().endswith("trigger")


@dataclass
class FunctionSpec:
    """A function the host can run: the worker's metadata and FunctionInfo, and its parsed bindings."""

    metadata: RpcFunctionMetadata
    info: FunctionInfo
    trigger: Binding
    outputs: list[Binding]
    disabled: bool = False

    @property
    def name(self) -> str:
        """The function name."""
        return self.metadata.name

    @property
    def trigger_type(self) -> str:
        """``httpTrigger``, ``timerTrigger`` or ``queueTrigger``."""
        return self.trigger.type

    def output(self, name: str) -> Binding | None:
        """The output binding named ``name``."""
        return next((b for b in self.outputs if b.name == name), None)


def build_spec(indexed: worker.IndexedFunction) -> FunctionSpec:
    """A ``FunctionSpec`` for a function the worker loaded; HostError if this host cannot run it."""
    name = indexed.metadata.name
    bindings = [Binding.from_json(raw) for raw in indexed.metadata.raw_bindings]
    trigger = next(b for b in bindings if b.is_trigger)  # azure.functions requires exactly one
    if trigger.type not in SUPPORTED_TRIGGERS:
        raise HostError(f"function '{name}': trigger '{trigger.type}' is not supported by the local host")
    others = [b for b in bindings if b is not trigger]
    unsupported = [b for b in others if b.direction != "out" or b.type not in SUPPORTED_OUTPUTS]
    if unsupported:
        binding = unsupported[0]
        raise HostError(f"function '{name}': {binding.direction} binding '{binding.name}' of type "
                        f"'{binding.type}' is not supported by the local host")
    http_outputs = [b for b in others if b.type == "http"]
    if len(http_outputs) != (1 if trigger.type == HTTP_TRIGGER else 0):
        raise HostError(f"function '{name}': the local host needs exactly one HTTP output on an HTTP "
                        "trigger and none on other triggers")
    return FunctionSpec(metadata=indexed.metadata, info=indexed.info, trigger=trigger, outputs=others)


def index_app(root: Path, module_name: str) -> list[FunctionSpec]:
    """The functions of ``root/<module_name>.py``, indexed by the worker, checked for this host."""
    script_file = f"{module_name}.py"
    if not (root / script_file).is_file():  # the worker would silently index nothing (a v1 app)
        raise HostError(f"app module '{module_name}' not found in {root}")
    return [build_spec(indexed) for indexed in worker.index(root, script_file)]
