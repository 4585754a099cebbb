"""CI simulator: workflow jobs, history, status and schedules in both path forms."""
from __future__ import annotations

from typing import Any

import pytest

from dev.cisim import SAMPLE_INSTANCE_ID, ApiClient, CISimulator

INST = f"/instances/{SAMPLE_INSTANCE_ID}"
PREFIXES = ["workflows", "manage/workflows"]


def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def _data_sources(api: ApiClient) -> dict[str, dict[str, Any]]:
    items = _ok(api.get(f"{INST}/manage/datasources"))
    return {d["dataSourceMetadata"]["name"]: d["dataSourceMetadata"] for d in items}


@pytest.mark.parametrize("prefix", PREFIXES)
def test_sample_jobs_newest_first(ci_api: ApiClient, prefix: str) -> None:
    jobs = _ok(ci_api.get(f"{INST}/{prefix}/main/jobs", params={"includeTasks": "true"}))
    assert [j["submittedTimestamp"] for j in jobs] == sorted((j["submittedTimestamp"] for j in jobs), reverse=True)
    scheduled = next(j for j in jobs if j["jobSubmissionKind"] == "scheduled")
    assert scheduled["operationType"] == "all" and scheduled["jobStatus"] == "successful"
    assert {t["operationType"] for t in scheduled["tasks"]} == {
        "ingestion", "dataPreparation", "map", "match", "merge", "segmentation", "measures"}
    assert "tasks" not in _ok(ci_api.get(f"{INST}/{prefix}/main/jobs"))[0]
    assert len(_ok(ci_api.get(f"{INST}/{prefix}/main/jobs", params={"top": "1"}))) == 1


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("operation, identifiers", [
    ("Ingestion", "'{id}'"), ("ingestion", "{id}"), ("INGESTION", "eCommerce"),
])
def test_submit_ingestion_and_finish_via_control(ci_sim: CISimulator, ci_api: ApiClient, prefix: str,
                                                 operation: str, identifiers: str) -> None:
    ds = _data_sources(ci_api)["eCommerce"]
    job = _ok(ci_api.post(f"{INST}/{prefix}/main/jobs", params={
        "operationType": operation, "identifiers": identifiers.format(id=ds["dataSourceId"]),
        "forceRunRequested": "true"}))
    assert job["operationType"] == "ingestion" and job["jobStatus"] == "running"
    assert job["idList"] == [ds["dataSourceId"]] and job["shouldForceRunRequestedNodes"] is True
    assert [(t["operationType"], t["taskStatus"]) for t in job["tasks"]] == [("ingestion", "running")]
    assert _data_sources(ci_api)["eCommerce"]["refreshState"] == "updating"
    ci_sim.control.complete_job(job["jobId"])
    finished = _ok(ci_api.get(f"{INST}/{prefix}/main/jobs/{job['jobId']}", params={"includeTasks": "true"}))
    assert finished["jobStatus"] == "successful" and finished["endTimestamp"]
    assert finished["tasks"][0]["taskStatus"] == "successful"
    after = _data_sources(ci_api)["eCommerce"]
    assert after["refreshState"] == "updated" and after["lastRefresh"] > ds["lastRefresh"]


def test_submit_several_identifiers_and_body(ci_api: ApiClient) -> None:
    sources = _data_sources(ci_api)
    ids = [sources["eCommerce"]["dataSourceId"], sources["PoS"]["dataSourceId"]]
    job = _ok(ci_api.post(f"{INST}/workflows/main/jobs", params={"operationType": "ingestion",
                                                              "identifiers": ",".join(f"'{i}'" for i in ids)}))
    assert job["idList"] == ids and [t["taskStatus"] for t in job["tasks"]] == ["running", "queued"]
    body = {"operationType": "segmentation", "identifiers": ["ChurnRisk"], "submissionKind": "scheduled"}
    seg = _ok(ci_api.post(f"{INST}/manage/workflows/main/jobs", json=body))
    assert seg["jobSubmissionKind"] == "scheduled" and [t["friendlyName"] for t in seg["tasks"]] == ["Churn risk"]


def test_submit_full_and_unification_plans(ci_api: ApiClient) -> None:
    full = _ok(ci_api.post(f"{INST}/workflows/main/jobs", params={"operationType": "all"}))
    ops = [t["operationType"] for t in full["tasks"]]
    assert ops[:8] == ["ingestion"] * 4 + ["dataPreparation"] * 4
    assert ops[8:11] == ["map", "match", "merge"] and ops.count("segmentation") == 2 and ops.count("measures") == 4
    merge = _ok(ci_api.post(f"{INST}/workflows/main/jobs", params={"operationType": "Match"}))
    assert [t["operationType"] for t in merge["tasks"]] == ["map", "match"]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_cancel_via_api(ci_api: ApiClient, prefix: str) -> None:
    ds = _data_sources(ci_api)["PoS"]
    job = _ok(ci_api.post(f"{INST}/{prefix}/main/jobs", params={"operationType": "ingestion",
                                                             "identifiers": ds["dataSourceId"]}))
    cancelled = _ok(ci_api.post(f"{INST}/{prefix}/main/jobs/{job['jobId']}/cancel"))
    assert cancelled["jobStatus"] == "aborted" and cancelled["tasks"][0]["taskStatus"] == "aborted"
    assert _data_sources(ci_api)["PoS"]["refreshState"] == "updateCancelled"
    assert _ok(ci_api.post(f"{INST}/{prefix}/main/jobs/{job['jobId']}/cancel"))["jobStatus"] == "aborted"


@pytest.mark.parametrize("prefix", PREFIXES)
def test_status_has_one_node_per_operation_and_identifier(ci_api: ApiClient, prefix: str) -> None:
    nodes = _ok(ci_api.get(f"{INST}/{prefix}/main/status"))
    keys = [(n["operationType"], n["identifier"]) for n in nodes]
    assert len(keys) == len(set(keys))
    sources = _data_sources(ci_api)
    by_key = {(n["operationType"], n["identifier"]): n for n in nodes}
    loyalty = by_key[("ingestion", sources["Loyalty"]["dataSourceId"])]
    assert loyalty["taskStatus"] == "failed" and "expired" in loyalty["ciError"]["message"]
    assert loyalty["lastSuccessJobIds"] and loyalty["lastSuccessJobIds"] != loyalty["jobIds"]
    assert by_key[("ingestion", sources["ContactCenter"]["dataSourceId"])]["taskStatus"] == "needsUpdate"
    assert {("map", "Customer"), ("match", "Customer"), ("merge", "Customer")} <= set(keys)
    assert by_key[("segmentation", "ChurnRisk")]["additionalInfo"] == {"kind": "segmentation"}
    assert ("segmentation", "WinterCampaign2024") not in by_key  # inactive segments are not in the graph


@pytest.mark.parametrize("prefix", PREFIXES)
def test_history_and_schedules(ci_api: ApiClient, prefix: str) -> None:
    history = _ok(ci_api.get(f"{INST}/{prefix}/main/history"))
    assert history[0]["operationType"] == "segmentation" and history[0]["taskStatus"] == "successful"
    assert history[1]["operationType"] == "ingestion" and history[1]["taskStatus"] == "failed"
    assert len(_ok(ci_api.get(f"{INST}/{prefix}/main/history", params={"top": "3"}))) == 3
    schedules = _ok(ci_api.get(f"{INST}/{prefix}/main/schedules"))
    assert schedules[0]["operationType"] == "all" and schedules[0]["cronSchedules"] == ["0 2 * * *"]


@pytest.mark.parametrize("method, path, params, status, code", [
    ("GET", "/workflows/secondary/jobs", {}, 404, "workflowNotFound"),
    ("GET", "/manage/workflows/secondary/status", {}, 404, "workflowNotFound"),
    ("GET", "/workflows/main/jobs/8c5b8a3e-0d2f-4f4c-9f61-0b1f1c0e8a11", {}, 404, "jobNotFound"),
    ("POST", "/workflows/main/jobs", {}, 400, "invalidOperationType"),
    ("POST", "/workflows/main/jobs", {"operationType": "teleport"}, 400, "invalidOperationType"),
    ("POST", "/workflows/main/jobs", {"operationType": "ingestion", "identifiers": "'Nope'"}, 404,
     "dataSourceNotFound"),
    ("POST", "/workflows/main/jobs", {"operationType": "segmentation", "identifiers": "Nope"}, 404,
     "segmentNotFound"),
    ("POST", "/workflows/main/jobs", {"operationType": "all", "identifiers": "eCommerce"}, 400,
     "invalidIdentifiers"),
    ("GET", "/workflows/main/jobs", {"top": "many"}, 400, "invalidParameter"),
])
def test_workflow_errors(ci_api: ApiClient, method: str, path: str, params: dict[str, str], status: int,
                         code: str) -> None:
    response = ci_api.request(method, INST + path, params=params)
    assert response.status_code == status
    body = response.json()
    assert body["errorCode"] == code and body["resultSeverity"] == "error"


def test_unknown_instance_everywhere(ci_api: ApiClient) -> None:
    unknown = "/instances/8c5b8a3e-0d2f-4f4c-9f61-0b1f1c0e8a11"
    for path in ("", "/manage/datasources", "/manage/entities", "/manage/segments", "/manage/measures",
                 "/workflows/main/jobs", "/manage/workflows/main/status", "/profile/keyring", "/data/Customer"):
        response = ci_api.get(unknown + path)
        assert response.status_code == 404, path
        assert response.json()["errorCode"] == "instanceNotFound"


@pytest.mark.parametrize("prefix, operation, identifiers, forms", [
    ("manage/workflows", "Ingestion", "'{id}'", {"operation_type": {"Ingestion": 1}, "identifiers": {"quoted": 1}}),
    ("workflows", "ingestion", "{id}", {"operation_type": {"ingestion": 1}, "identifiers": {"plain": 1}}),
])
def test_request_log_records_the_form_used(ci_sim: CISimulator, ci_api: ApiClient, prefix: str, operation: str,
                                           identifiers: str, forms: dict[str, dict[str, int]]) -> None:
    ds = _data_sources(ci_api)["eCommerce"]
    ci_sim.control.reset_request_log()
    _ok(ci_api.post(f"{INST}/{prefix}/main/jobs", params={"operationType": operation,
                                                       "identifiers": identifiers.format(id=ds["dataSourceId"])}))
    _ok(ci_api.get(f"{INST}/{prefix}/main/jobs"))
    assert ci_sim.control.request_log()["forms"] == {"workflow_path": {prefix: 2}, **forms}


def test_request_log_records_body_identifiers(ci_sim: CISimulator, ci_api: ApiClient) -> None:
    _ok(ci_api.post(f"{INST}/manage/workflows/main/jobs", json={"operationType": "segmentation",
                                                             "identifiers": ["ChurnRisk"]}))
    assert ci_sim.control.request_log()["forms"]["identifiers"] == {"body": 1}
