"""The real Python worker library decides what the local host loads (nothing here is mocked).

The reference is the worker library run on its own in a fresh process, the way the Functions host
starts it (app directory as working directory and first on ``sys.path``): its loader indexes the
app into a ``Registry`` and returns the ``RpcFunctionMetadata`` it would send to the host.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure_functions_runtime.bindings import meta
from azure_functions_runtime.functions import FunctionLoadError

from dev.funchost import FunctionHost, HostError
from dev.funchost.bindings import http_result, queue_bodies
from dev.funchost.functions import index_app
from tests.fixtures.funchost import REPO_ROOT, FuncHostError, FuncHostFactory, FuncHostProcess

OUT_LIST_ROOT = Path(__file__).resolve().parent / "apps" / "out_list"
WORKER_VERDICT = ("FunctionLoadError: cannot load the fan_out function: binding items has invalid non-type "
                  "annotation azure.functions._abc.Out[list[str]]")
REJECTION = f"the Python worker cannot load the app: {WORKER_VERDICT}"
PROTO_DIRECTIONS = {0: "in", 1: "out", 2: "inout"}  # BindingInfo.Direction in FunctionRpc.proto

_WORKER_METADATA = """
import json, sys
from pathlib import Path
from azure_functions_runtime import loader
from azure_functions_runtime.bindings import meta
from azure_functions_runtime.functions import Registry
from dev.funchost import worker_messages

root, script = Path(sys.argv[1]), sys.argv[2]
sys.path.insert(0, str(root))
meta.load_binding_registry()
functions = loader.index_function_app(str(root / script))
metadata, _ = loader.process_indexed_function(worker_messages, Registry(), functions, str(root))
print(json.dumps([{"name": m.name, "raw_bindings": m.raw_bindings,
                   "bindings": {name: {"type": b.type, "direction": b.direction}
                                for name, b in m.bindings.items()}} for m in metadata]))
"""

_APP_FUNCTIONS = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
app = importlib.import_module(sys.argv[2]).app
print(json.dumps([function.get_function_name() for function in app.get_functions()]))
"""


def _python(code: str, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter in ``root`` (the repository importable)."""
    return subprocess.run([sys.executable, "-c", code, str(root), *args], cwd=root, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})


def _run(code: str, root: Path, *args: str) -> Any:
    """Run ``code`` like ``_python``; the JSON of its last output line."""
    done = _python(code, root, *args)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def worker_metadata() -> list[dict[str, Any]]:
    """The worker's RpcFunctionMetadata for the repository's function_app.py."""
    return _run(_WORKER_METADATA, REPO_ROOT, "function_app.py")


def test_the_worker_indexes_every_function_of_the_app(worker_metadata: list[dict[str, Any]]) -> None:
    declared = _run(_APP_FUNCTIONS, REPO_ROOT, "function_app")
    assert len(declared) == len(set(declared)) > 0
    assert [m["name"] for m in worker_metadata] == declared


def test_the_host_reports_exactly_the_workers_metadata(funchost: FuncHostProcess,
                                                       worker_metadata: list[dict[str, Any]]) -> None:
    hosted = {f["name"]: f for f in funchost.info["functions"]}
    assert sorted(hosted) == sorted(m["name"] for m in worker_metadata)
    for metadata in worker_metadata:
        host = hosted[metadata["name"]]
        assert sorted(host["bindings"], key=lambda b: b["name"]) == \
            sorted((json.loads(raw) for raw in metadata["raw_bindings"]), key=lambda b: b["name"])
        assert {b["name"]: (b["type"], b["direction"].lower()) for b in host["bindings"]} == \
            {name: (b["type"], PROTO_DIRECTIONS[b["direction"]]) for name, b in metadata["bindings"].items()}
        triggers = [b["type"] for b in metadata["bindings"].values() if b["type"].endswith("Trigger")]
        assert [host["trigger"]] == triggers


def test_the_worker_itself_rejects_func_out_of_builtin_list() -> None:
    done = _python(_WORKER_METADATA, OUT_LIST_ROOT, "out_builtin_list_app.py")
    assert done.returncode != 0 and WORKER_VERDICT.split(": ", 1)[1] in done.stderr


def test_in_process_host_refuses_to_start_with_the_workers_message(tmp_path: Path) -> None:
    host = FunctionHost(OUT_LIST_ROOT, app_module="out_builtin_list_app", run_timers=False, state_dir=tmp_path)
    with pytest.raises(HostError, match=re.escape(REJECTION)) as caught:
        host.start()
    assert isinstance(caught.value.__cause__, FunctionLoadError)


def test_host_process_refuses_to_start_with_the_workers_message(funchost_factory: FuncHostFactory) -> None:
    host = funchost_factory.create(root=OUT_LIST_ROOT, app="out_builtin_list_app")
    with pytest.raises(FuncHostError, match="exited with 2 before it was ready"):
        host.start()
    assert f"funchost: error: {REJECTION}" in host.logs()


def test_the_same_app_with_typing_list_loads() -> None:
    [spec] = index_app(OUT_LIST_ROOT, "out_typing_list_app")
    assert spec.name == "fan_out" and spec.trigger_type == "timerTrigger"
    assert spec.info.output_types["items"].binding_name == "queue"


# -- the host's half reads what the worker encodes ---------------------------------------------

def _encoded(binding: str, value: Any, pytype: Any) -> Any:
    meta.load_binding_registry()
    return meta.get_datum(binding, value, pytype)


def test_http_response_cookies_and_status_survive_the_workers_encoding() -> None:
    response = func.HttpResponse("made", status_code=201, headers={"Set-Cookie": "a=b; Path=/", "X-A": "1"})
    result = http_result(_encoded("http", response, func.HttpResponse))
    assert result.status == 201 and result.body == b"made"
    assert ("Set-Cookie", "a=b; Path=/") in result.headers and ("X-A", "1") in result.headers
    with pytest.raises(TypeError, match="unable to encode outgoing TypedData"):
        _encoded("http", None, func.HttpResponse)  # so returning None through $return fails


def test_queue_outputs_become_one_message_per_item() -> None:
    assert queue_bodies(_encoded("generic", "one", str)) == [b"one"]
    assert queue_bodies(_encoded("generic", ["a", "b"], str)) == [b"a", b"b"]
    messages = [func.QueueMessage(body="x"), "y"]
    assert queue_bodies(_encoded("queue", messages, typing.List[func.QueueMessage])) == [b"x", b"y"]
