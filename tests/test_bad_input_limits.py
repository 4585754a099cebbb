"""Inputs that used to reach a 500 are 4xx answers with a JSON body, and nothing is stored or sent to CI.

Through the local host over HTTP: invalid Unicode, out-of-range numbers, deep nesting, bodies over
the size limit, dot segments in ids and port 0 in callback URLs.
"""
from __future__ import annotations

import json
from typing import Any

import pytest

from ciconnector.data_actions.model import MAX_BODY_BYTES as ACTION_BODY_LIMIT
from ciconnector.operations.validation import MAX_ABS_NUMBER
from ciconnector.request_body import MAX_DEPTH
from ciconnector.trigger_kinds.subscribe import MAX_BODY_BYTES as SUBSCRIBE_BODY_LIMIT
from dev.cisim import SAMPLE_INSTANCE_ID as INSTANCE
from tests.test_triggers_bad_input import nothing_stored, post

pytestmark = pytest.mark.usefixtures("clean_app_state")

BASE = f"/api/instances/{INSTANCE}"


def nested(depth: int) -> str:
    """A JSON object nesting ``depth`` objects (``{"a": {"a": ... 1}}``)."""
    return '{"a": ' * depth + "1" + "}" * depth


def assert_error(response: Any, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code and body["message"], body
    return body


def ci_writes(ci_sim: Any) -> int:
    """Item writes CI received (POST/PATCH under /data/)."""
    calls = ci_sim.control.request_log()["calls"]
    return sum(n for call, n in calls.items() if call.split(" ")[0] in ("POST", "PATCH") and "/data/" in call)


@pytest.mark.parametrize("body, code", [
    ('{"callbackUrl": "https://example.com/cb\\ud800"}', "InvalidUnicode"),
    ('{"callbackUrl": "https://example.com/cb", "\\udfff": 1}', "InvalidUnicode"),
    (nested(MAX_DEPTH + 1).replace('{"a": ', '{"callbackUrl": "https://example.com/", "a": ', 1), "JsonTooDeep"),
    ("[" * 5000 + "]" * 5000, "JsonTooDeep"),  # deeper than the interpreter's recursion limit
])
def test_subscribe_refuses_unusable_json(app_host, app_env, body, code):
    response = post(app_host, "dataSourceRefreshFailed", data=body.encode())
    assert_error(response, 400, code)
    assert nothing_stored(app_host, app_env)


def test_subscribe_body_over_the_limit_is_413(app_host, app_env, receiver):
    padding = "x" * SUBSCRIBE_BODY_LIMIT
    body = json.dumps({"callbackUrl": receiver.callback_url("big"), "note": padding}).encode()
    assert_error(post(app_host, "dataSourceRefreshFailed", data=body), 413, "BodyTooLarge")
    assert nothing_stored(app_host, app_env)


@pytest.mark.parametrize("threshold", [int("9" * 4000), MAX_ABS_NUMBER + 1, -(MAX_ABS_NUMBER + 1)])
def test_threshold_out_of_range_is_400(app_host, app_env, receiver, threshold):
    body = json.dumps({"callbackUrl": receiver.callback_url("t"), "segmentName": "ChurnRisk",
                       "threshold": threshold}).encode()
    response = post(app_host, "segmentThresholdCrossed", data=body)
    error = assert_error(response, 400, "ParameterOutOfRange")
    assert error["field"] == "threshold"
    assert nothing_stored(app_host, app_env)


@pytest.mark.parametrize("url", ["https://example.com:0/cb", "https://example.com:00/cb"])
def test_callback_port_zero_is_400(app_host, app_env, url):
    response = post(app_host, "dataSourceRefreshFailed", data=json.dumps({"callbackUrl": url}).encode())
    assert assert_error(response, 400, "InvalidCallbackUrl")["field"] == "callbackUrl"
    assert nothing_stored(app_host, app_env)


@pytest.mark.parametrize("method, path", [("POST", f"{BASE}/data/Customer"),
                                          ("PATCH", f"{BASE}/data/Customer/cust-1")])
@pytest.mark.parametrize("body, status, code", [
    (nested(MAX_DEPTH + 1).encode(), 400, "JsonTooDeep"),
    (nested(5000).encode(), 400, "JsonTooDeep"),
    (b'{"FullName": "Ada\\udc80"}', 400, "InvalidUnicode"),
    (b'{"FullName": "' + b"x" * ACTION_BODY_LIMIT + b'"}', 413, "BodyTooLarge"),
])
def test_item_bodies_are_checked_before_ci_sees_them(app_host, ci_sim, method, path, body, status, code):
    ci_sim.control.reset_request_log()
    response = app_host.request(method, path, data=body, headers={"Content-Type": "application/json"})
    assert assert_error(response, status, code)["field"] == ("item" if method == "POST" else "changes")
    assert ci_writes(ci_sim) == 0


@pytest.mark.parametrize("item_id", [".", ".."])
def test_dot_segment_item_ids_are_400(app_host, ci_sim, item_id):
    """Sent percent-encoded so that no client normalises the path before the host sees it."""
    ci_sim.control.reset_request_log()
    encoded = item_id.replace(".", "%2E")
    for method in ("GET", "PATCH"):
        response = app_host.request(method, f"{BASE}/data/Customer/{encoded}", json={"City": "Oslo"})
        assert assert_error(response, 400, "InvalidParameter")["field"] == "itemId"
    assert ci_writes(ci_sim) == 0
