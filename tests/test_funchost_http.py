"""HTTP semantics of the local host, over real HTTP against a host subprocess."""
from __future__ import annotations

import signal
import threading
import time
import uuid
from typing import Any, Iterator

import pytest
import requests

from tests.apps.sample_support import SAMPLE_APP, SAMPLE_ROOT, drain, queue_client, sample_env, wait_for
from tests.fixtures.funchost import FuncHostFactory, FuncHostProcess


@pytest.fixture(scope="module")
def env(azurite: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return sample_env(azurite.connection_string, tmp_path_factory.mktemp("http-state"))


@pytest.fixture(scope="module")
def host(funchost_factory: FuncHostFactory, env: dict[str, str]) -> Iterator[FuncHostProcess]:
    host = funchost_factory.start(root=SAMPLE_ROOT, app=SAMPLE_APP, env=env)
    yield host
    host.stop()


def test_readiness_line_lists_functions_and_keys(host: FuncHostProcess) -> None:
    assert host.base_url.startswith("http://127.0.0.1:")
    assert host.function_key and host.master_key and host.function_key != host.master_key
    functions = {f["name"]: f for f in host.info["functions"]}
    assert functions["item"] == {"name": "item", "trigger": "httpTrigger", "disabled": False,
                                 "route": "items/{id:int}", "methods": ["GET", "POST"],
                                 "authLevel": "function", "bindings": [
                                     {"direction": "IN", "type": "httpTrigger", "name": "req",
                                      "methods": ["GET", "POST"], "route": "items/{id:int}",
                                      "authLevel": "FUNCTION"},
                                     {"direction": "OUT", "type": "http", "name": "$return"}]}
    assert functions["tick"]["schedule"] == "%SAMPLE_SCHEDULE%"
    assert functions["work"]["queue"] == "%SAMPLE_IN_QUEUE%"


def test_anonymous_route_with_query_and_setting(host: FuncHostProcess) -> None:
    response = host.request("GET", "/api/hello?name=Ada", key=None)
    assert (response.status_code, response.text) == (200, "hello Ada")
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_route_params_query_headers_and_body_reach_the_function(host: FuncHostProcess) -> None:
    response = host.request("POST", "/api/items/42?a=1&a=2&b=x", data=b"payload", headers={"X-Sample": "s"})
    assert response.status_code == 201
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["function"] == "item" and body["id"] == "42" and body["method"] == "POST"
    assert body["params"] == {"a": "1,2", "b": "x"}
    assert body["body"] == "payload" and body["sample_header"] == "s"
    assert body["url"] == host.url("/api/items/42?a=1&a=2&b=x")


def test_literal_segments_win_over_parameters_and_constraints_pick_routes(host: FuncHostProcess) -> None:
    assert host.request("GET", "/api/items/special").json() == {"function": "special_item"}
    assert host.request("GET", "/api/items/7").json()["function"] == "item"
    assert host.request("GET", "/api/items/seven").json() == {"function": "named_item", "name": "seven"}
    assert host.request("GET", "/api/items/7/").json()["function"] == "item"


def test_optional_guid_alpha_and_default_routes(host: FuncHostProcess) -> None:
    assert host.request("GET", "/api/files", key=None).json()["route_params"] == {}
    assert host.request("PUT", "/api/files/a.txt", key=None).json() == {"route_params": {"name": "a.txt"},
                                                                          "method": "PUT"}
    guid = str(uuid.uuid4())
    assert host.request("GET", f"/api/guids/{guid}", key=None).json() == {"id": guid}
    assert host.request("GET", "/api/guids/123", key=None).status_code == 404
    assert host.request("GET", "/api/words/abc", key=None).json() == {"word": "abc"}
    assert host.request("GET", "/api/words/abc1", key=None).status_code == 404
    assert host.request("GET", "/api/default_route", key=None).text == "default route"


def test_unknown_routes_and_wrong_methods_answer_404(host: FuncHostProcess) -> None:
    for method, path in [("GET", "/api/nothing"), ("GET", "/nothing"), ("GET", "/api"),
                         ("POST", "/api/hello"), ("HEAD", "/api/hello"), ("DELETE", "/api/items/5"),
                         ("POST", "/api/items/special")]:
        response = host.request(method, path, key="master")
        assert response.status_code == 404, (method, path)
        assert response.content == b""


def test_function_level_needs_a_function_host_or_master_key(host: FuncHostProcess) -> None:
    assert host.request("GET", "/api/items/1", key=None).status_code == 401
    assert host.request("GET", "/api/items/1", key="wrong").status_code == 401
    assert host.request("GET", "/api/items/1?code=wrong", key=None).status_code == 401
    assert host.request("GET", "/api/items/1", key="function").status_code == 200
    assert host.request("GET", "/api/items/1", key="master").status_code == 200
    assert host.request("GET", f"/api/items/1?code={host.function_key}", key=None).status_code == 200
    # the header wins over the query string
    assert host.request("GET", f"/api/items/1?code={host.function_key}", key="wrong").status_code == 401


def test_admin_level_needs_the_master_key(host: FuncHostProcess) -> None:
    assert host.request("GET", "/api/admin-area", key=None).status_code == 401
    assert host.request("GET", "/api/admin-area", key="function").status_code == 401
    assert host.request("GET", "/api/admin-area", key="master").text == "admin ok"
    assert host.request("GET", f"/api/admin-area?code={host.master_key}", key=None).status_code == 200


def test_unhandled_exception_is_an_empty_500_and_logged(host: FuncHostProcess) -> None:
    response = host.request("GET", "/api/boom", key=None)
    assert (response.status_code, response.content) == (500, b"")
    wait_for(lambda: "secret internal detail" in host.logs())
    assert "Executed 'Functions.boom' (Failed" in host.logs()


def test_http_output_through_out_parameter_and_async_context(host: FuncHostProcess) -> None:
    response = host.request("GET", "/api/out-response", key=None)
    assert (response.status_code, response.text, response.headers["X-Out"]) == (203, "via out", "1")
    body = host.request("GET", "/api/async-context", key=None).json()
    assert body["function_name"] == "async_context" and uuid.UUID(body["invocation_id"])


def test_queue_output_is_sent_only_when_the_function_succeeds(host: FuncHostProcess, env: dict[str, str],
                                                              azurite: Any) -> None:
    out = queue_client(azurite.connection_string, env["SAMPLE_OUT_QUEUE"])
    assert host.request("POST", "/api/enqueue?fail=1", key=None, data="lost").status_code == 500
    assert host.request("POST", "/api/enqueue", key=None, data="kept").status_code == 202
    assert drain(out) == ["kept"]
    raw = queue_client(azurite.connection_string, env["SAMPLE_OUT_QUEUE"], base64=False)
    assert host.request("POST", "/api/enqueue", key=None, data="kept").status_code == 202
    assert drain(raw) == ["a2VwdA=="]  # stored base64-encoded


def test_invocations_are_logged_with_name_duration_and_path_only(host: FuncHostProcess) -> None:
    host.request("GET", f"/api/items/9?code={host.function_key}&sig=abc123", key=None)
    logs = wait_for(lambda: (text := host.logs()) and "Executed 'Functions.item' (Succeeded" in text and text)
    assert "Executed HTTP request: GET /api/items/9 -> 200" in logs
    assert "Duration=" in logs
    assert host.function_key not in logs and "abc123" not in logs and "code=" not in logs


def test_admin_invoke_rules(host: FuncHostProcess) -> None:
    empty = {"input": ""}
    assert host.request("POST", "/admin/functions/tick", key=None, json=empty).status_code == 401
    assert host.request("POST", "/admin/functions/tick", key="function", json=empty).status_code == 401
    assert host.request("POST", "/admin/functions/tick", key="master").status_code == 400
    assert host.request("POST", "/admin/functions/nope", key="master", json=empty).status_code == 404
    assert host.request("POST", "/admin/functions/hello", key="master", json=empty).status_code == 400
    response = host.request("POST", "/admin/functions/tick", key="master", json=empty)
    assert (response.status_code, response.content) == (202, b"")


def test_host_ping_and_status(host: FuncHostProcess) -> None:
    assert host.request("GET", "/admin/host/ping", key=None).status_code == 200
    assert host.request("GET", "/admin/host/status", key="function").status_code == 401
    assert host.request("GET", "/admin/host/status", key="master").json()["state"] == "Running"


def test_sigterm_finishes_in_flight_requests_and_exits_0(funchost_factory: FuncHostFactory,
                                                         env: dict[str, str]) -> None:
    host = funchost_factory.start(root=SAMPLE_ROOT, app=SAMPLE_APP, env=env)
    result: dict[str, requests.Response] = {}
    thread = threading.Thread(target=lambda: result.setdefault(
        "r", host.request("GET", "/api/slow?s=1.5", key=None)))
    thread.start()
    wait_for(lambda: "Executing 'Functions.slow'" in host.logs())
    started = time.monotonic()
    host.send_signal(signal.SIGTERM)

    def refused() -> bool:
        try:
            host.request("GET", "/api/hello", key=None, timeout=2)
        except requests.ConnectionError:
            return True
        return False

    wait_for(refused, timeout=4)
    thread.join(10)
    assert result["r"].status_code == 200 and result["r"].text == "done"
    assert host.stop() == 0
    assert time.monotonic() - started < 5
    assert "Stopped" in host.logs()


def test_fixed_keys_come_from_settings(funchost_factory: FuncHostFactory, env: dict[str, str]) -> None:
    settings = {"FUNCHOST_FUNCTION_KEY": "fk-test", "FUNCHOST_MASTER_KEY": "mk-test",
                "AzureWebJobs.hello.Disabled": "true"}
    host = funchost_factory.start(root=SAMPLE_ROOT, app=SAMPLE_APP, env={**env, **settings})
    try:
        assert (host.function_key, host.master_key) == ("fk-test", "mk-test")
        assert host.request("GET", "/api/items/3", key="fk-test").status_code == 200
        assert host.request("GET", "/api/hello", key=None).status_code == 404
        assert host.request("GET", "/api/hello", key="master").status_code == 200
    finally:
        assert host.stop() == 0


def test_app_errors_fail_the_start_clearly(funchost_factory: FuncHostFactory, env: dict[str, str]) -> None:
    with pytest.raises(Exception, match="app module 'missing_app' not found"):
        funchost_factory.start(root=SAMPLE_ROOT, app="missing_app", env=env)
