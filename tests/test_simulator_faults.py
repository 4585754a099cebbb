"""CI simulator: fault injection (429 + Retry-After, 5xx, delays, malformed JSON) consumed per request."""
from __future__ import annotations

import json
import time

import pytest
import requests

from dev.cisim import SAMPLE_INSTANCE_ID, ApiClient, CISimulator

INST = f"/instances/{SAMPLE_INSTANCE_ID}"


def test_429_with_retry_after_then_success(ci_sim: CISimulator, ci_api: ApiClient) -> None:
    ci_sim.control.add_fault(r"/manage/segments$", 429, retry_after=7, times=2)
    for _ in range(2):
        throttled = ci_api.get(f"{INST}/manage/segments")
        assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "7"
        assert throttled.content == b""
    assert ci_api.get(f"{INST}/manage/segments").status_code == 200
    assert ci_sim.control.faults() == []
    assert ci_sim.control.request_log()["operations"]["Get-all-segments"] == 3


def test_429_on_data_writes_has_no_body(ci_sim: CISimulator, ci_api: ApiClient) -> None:
    ci_sim.control.add_fault(r"/data/Customer$", 429, method="POST", retry_after=1)
    assert ci_api.get(f"{INST}/data/Customer").status_code == 200  # GET does not match the rule
    response = ci_api.post(f"{INST}/data/Customer", json={"CustomerId": "x"})
    assert response.status_code == 429 and response.content == b"" and response.headers["Retry-After"] == "1"


@pytest.mark.parametrize("path, status, body_key", [
    ("/manage/measures", 503, None),
    ("/manage/measures", 500, "httpStatusCode"),
    ("/data/Customer", 503, "errorCode"),
    ("/workflows/main/jobs", 502, "httpStatusCode"),
])
def test_server_errors(ci_sim: CISimulator, ci_api: ApiClient, path: str, status: int, body_key: str | None) -> None:
    ci_sim.control.add_fault(path, status)
    response = ci_api.get(INST + path)
    assert response.status_code == status
    if body_key is None:
        assert response.content == b""
    else:
        assert body_key in response.json()
    assert ci_api.get(INST + path).status_code == 200


def test_faults_apply_before_authentication(ci_sim: CISimulator) -> None:
    ci_sim.control.add_fault("/instances$", 503)
    response = requests.Session().get(f"{ci_sim.base_url}/instances", verify=ci_sim.ca_path, timeout=10)
    assert response.status_code == 503


def test_delay_and_client_timeout(ci_sim: CISimulator, ci_api: ApiClient) -> None:
    ci_sim.control.add_fault("/manage/measures$", delay_seconds=0.3)
    started = time.monotonic()
    assert ci_api.get(f"{INST}/manage/measures").status_code == 200
    assert time.monotonic() - started >= 0.3
    ci_sim.control.add_fault("/manage/measures$", 503, delay_seconds=0.5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        ci_api.session.get(f"{ci_api.base_url}{INST}/manage/measures", headers=ci_api.headers(), timeout=0.2)


def test_malformed_json(ci_sim: CISimulator, ci_api: ApiClient) -> None:
    ci_sim.control.add_fault("/workflows/main/status$", malformed_json=True)
    response = ci_api.get(f"{INST}/workflows/main/status")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)
    assert isinstance(ci_api.get(f"{INST}/workflows/main/status").json(), list)
    ci_sim.control.add_fault("/workflows/main/status$", 500, malformed_json=True)
    broken = ci_api.get(f"{INST}/workflows/main/status")
    assert broken.status_code == 500
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.text)


def test_token_endpoint_faults(ci_sim: CISimulator, ci_api: ApiClient) -> None:
    ci_sim.control.add_fault("/oauth2/v2.0/token$", 503, retry_after=2)
    with pytest.raises(requests.HTTPError) as err:
        ci_api.fetch_token()
    assert err.value.response.status_code == 503
    assert err.value.response.json()["error"] == "temporarily_unavailable"
    assert err.value.response.headers["Retry-After"] == "2"
    assert ci_api.fetch_token()


def test_rules_are_ordered_listed_and_cleared(ci_sim: CISimulator, ci_api: ApiClient) -> None:
    first = ci_sim.control.add_fault("/manage/", 500, method="get", times=3)
    ci_sim.control.add_fault("/manage/segments", 429)
    assert [r["id"] for r in ci_sim.control.faults()] == [first["id"], first["id"] + 1]
    assert ci_api.get(f"{INST}/manage/segments").status_code == 500
    assert ci_sim.control.faults()[0]["times"] == 2
    ci_sim.control.clear_faults()
    assert ci_api.get(f"{INST}/manage/segments").status_code == 200
