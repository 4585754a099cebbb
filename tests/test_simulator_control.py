"""CI simulator: control API scenarios keep data sources, jobs, status, history, segments and measures consistent."""
from __future__ import annotations

from typing import Any

import pytest

from dev.cisim import SAMPLE_INSTANCE_ID, ApiClient, CISimulator, SimulatorControlError

INST = f"/instances/{SAMPLE_INSTANCE_ID}"


def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def _source(api: ApiClient, name: str) -> dict[str, Any]:
    items = _ok(api.get(f"{INST}/manage/datasources"))
    return next(d["dataSourceMetadata"] for d in items if d["dataSourceMetadata"]["name"] == name)


def _node(api: ApiClient, operation: str, identifier: str) -> dict[str, Any]:
    return next(n for n in _ok(api.get(f"{INST}/workflows/main/status"))
                if (n["operationType"], n["identifier"]) == (operation, identifier))


def test_refresh_failure_is_consistent_everywhere(ci_sim: CISimulator, ci_api: ApiClient) -> None:
    before = _source(ci_api, "eCommerce")
    previous_success = _node(ci_api, "ingestion", before["dataSourceId"])["lastSuccessJobIds"]
    started = ci_sim.control.start_refresh("eCommerce")
    assert started["jobStatus"] == "running" and _source(ci_api, "eCommerce")["refreshState"] == "updating"
    assert _node(ci_api, "ingestion", before["dataSourceId"])["taskStatus"] == "running"

    failed = ci_sim.control.fail_refresh("eCommerce", message="Source returned HTTP 500")
    task = failed["tasks"][0]
    assert failed["jobStatus"] == "failed" and failed["endTimestamp"]
    assert task["taskStatus"] == "failed" and task["ciError"]["message"] == "Source returned HTTP 500"
    assert task["ciErrors"] == [task["ciError"]]
    source = _source(ci_api, "eCommerce")
    assert source["refreshState"] == "updateFailed" and source["lastRefresh"] > before["lastRefresh"]
    node = _node(ci_api, "ingestion", before["dataSourceId"])
    assert node["taskStatus"] == "failed" and node["jobIds"] == [failed["jobId"]]
    assert node["ciError"] == task["ciError"] and node["lastSuccessJobIds"] == previous_success
    assert node["endTimestamp"] == task["endTimestamp"]
    newest = _ok(ci_api.get(f"{INST}/workflows/main/history", params={"top": "1"}))[0]
    assert newest["taskId"] == task["taskId"] and newest["jobIds"] == [failed["jobId"]]
    listed = _ok(ci_api.get(f"{INST}/workflows/main/jobs", params={"top": "1"}))[0]
    assert listed["jobId"] == failed["jobId"] and listed["jobStatus"] == "failed"


@pytest.mark.parametrize("action, state, job_status", [
    ("complete", "updated", "successful"), ("cancel", "updateCancelled", "aborted"),
])
def test_refresh_complete_and_cancel(ci_sim: CISimulator, ci_api: ApiClient, action: str, state: str,
                                     job_status: str) -> None:
    ci_sim.control.start_refresh("Loyalty")
    job = getattr(ci_sim.control, f"{action}_refresh")("Loyalty")
    assert job["jobStatus"] == job_status
    assert _source(ci_api, "Loyalty")["refreshState"] == state
    with pytest.raises(SimulatorControlError) as err:
        ci_sim.control.complete_refresh("Loyalty")
    assert err.value.status == 409


def test_refresh_outcome_in_one_call(ci_sim: CISimulator, ci_api: ApiClient) -> None:
    job = ci_sim.control.start_refresh("ContactCenter", outcome="succeed")
    assert job["jobStatus"] == "successful"
    assert _source(ci_api, "ContactCenter")["refreshState"] == "updated"
    ci_sim.control.start_refresh("PoS")
    with pytest.raises(SimulatorControlError) as err:
        ci_sim.control.start_refresh("PoS")
    assert err.value.status == 409


def test_full_refresh_step_by_step_with_failure(ci_sim: CISimulator, ci_api: ApiClient) -> None:
    job = ci_sim.control.run_full_refresh(submission_kind="scheduled", run="step", fail_task="match",
                                          message="Match rules invalid")
    assert job["jobStatus"] == "running" and job["jobSubmissionKind"] == "scheduled"
    assert [t["taskStatus"] for t in job["tasks"]][:2] == ["running", "queued"]
    steps = 0
    while job["jobStatus"] == "running":
        job = ci_sim.control.advance_job(job["jobId"])
        steps += 1
    statuses = {t["operationType"]: t["taskStatus"] for t in job["tasks"]}
    assert steps == 10 and job["jobStatus"] == "failed"
    assert statuses["ingestion"] == statuses["dataPreparation"] == statuses["map"] == "successful"
    assert statuses["match"] == "failed"
    assert statuses["merge"] == statuses["segmentation"] == statuses["measures"] == "skipped"
    assert _node(ci_api, "match", "Customer")["ciError"]["message"] == "Match rules invalid"
    assert _node(ci_api, "merge", "Customer")["taskStatus"] == "skipped"
    assert _source(ci_api, "ContactCenter")["refreshState"] == "updated"
    with pytest.raises(SimulatorControlError):
        ci_sim.control.advance_job(job["jobId"])


def test_full_refresh_all_at_once(ci_sim: CISimulator, ci_api: ApiClient) -> None:
    before = {s["name"]: s["evaluationStatus"]["evaluationDate"] for s in _ok(ci_api.get(f"{INST}/manage/segments"))
              if s["state"] == "active"}
    job = ci_sim.control.run_full_refresh(submission_kind="onDemand")
    assert job["jobStatus"] == "successful" and job["operationType"] == "all"
    assert job["jobSubmissionKind"] == "onDemand"
    assert all(t["taskStatus"] == "successful" for t in job["tasks"])
    assert {_source(ci_api, n)["refreshState"] for n in ("eCommerce", "Loyalty", "PoS")} == {"updated"}
    for segment in _ok(ci_api.get(f"{INST}/manage/segments")):
        if segment["state"] == "active":
            assert segment["evaluationStatus"]["jobStatus"] == "CompletedSuccess"
            assert segment["evaluationStatus"]["evaluationDate"] > before[segment["name"]]
    measure = _ok(ci_api.get(f"{INST}/manage/measures/TotalRevenue"))
    assert measure["latestEvaluation"]["state"] == "completed"
    assert measure["latestEvaluation"]["lastSuccessfulRunId"] == job["jobId"]


def test_step_advance_with_explicit_failure_and_cancel(ci_sim: CISimulator, ci_api: ApiClient) -> None:
    job = ci_sim.control.run_full_refresh(run="step")
    job = ci_sim.control.advance_job(job["jobId"], fail=True, message="Lake unreachable")
    assert job["jobStatus"] == "failed" and job["tasks"][0]["ciError"]["message"] == "Lake unreachable"
    assert _source(ci_api, "eCommerce")["refreshState"] == "updateFailed"
    second = ci_sim.control.run_full_refresh(run="step")
    cancelled = ci_sim.control.cancel_job(second["jobId"])
    assert cancelled["jobStatus"] == "aborted"
    assert [t["taskStatus"] for t in cancelled["tasks"]][:2] == ["aborted", "skipped"]
    assert _source(ci_api, "eCommerce")["refreshState"] == "updateCancelled"


def test_unification_refresh(ci_sim: CISimulator, ci_api: ApiClient) -> None:
    job = ci_sim.control.run_unification(run="step")
    assert job["operationType"] == "merge" and job["options"] == {"runDownstreamAfterMerge": False}
    job = ci_sim.control.complete_job(job["jobId"])
    assert [(t["operationType"], t["taskStatus"]) for t in job["tasks"]] == [
        ("map", "successful"), ("match", "successful"), ("merge", "successful")]
    assert _node(ci_api, "merge", "Customer")["jobIds"] == [job["jobId"]]
    failed = ci_sim.control.run_unification(fail_task="merge")
    assert failed["jobStatus"] == "failed" and failed["tasks"][2]["taskStatus"] == "failed"
    with pytest.raises(SimulatorControlError) as err:
        ci_sim.control.run_unification(fail_task="segmentation")
    assert err.value.status == 400


def test_api_submitted_job_failed_through_control(ci_sim: CISimulator, ci_api: ApiClient) -> None:
    job = _ok(ci_api.post(f"{INST}/manage/workflows/main/jobs", params={"operationType": "segmentation"}))
    job = ci_sim.control.complete_job(job["jobId"], fail_task="segmentation:ChurnRisk", message="SQL error")
    statuses = [(t["friendlyName"], t["taskStatus"]) for t in job["tasks"]]
    assert statuses == [("High value customers", "successful"), ("Churn risk", "failed")]
    churn = next(s for s in _ok(ci_api.get(f"{INST}/manage/segments")) if s["name"] == "ChurnRisk")
    assert churn["evaluationStatus"]["jobStatus"] == "CompletedFailure"
    assert churn["evaluationStatus"]["error"]["value"] == "SQL error"


def test_segment_count(ci_sim: CISimulator, ci_api: ApiClient) -> None:
    before = next(s for s in _ok(ci_api.get(f"{INST}/manage/segments")) if s["name"] == "HighValueCustomers")
    updated = ci_sim.control.set_segment_count("HighValueCustomers", 120)
    assert updated["evaluationStatus"]["entityCount"] == 120
    served = next(s for s in _ok(ci_api.get(f"{INST}/manage/segments", params={
        "includeHistoricStats": "true", "historicStatsDays": "3"})) if s["name"] == "HighValueCustomers")
    status = served["evaluationStatus"]
    assert status["entityCount"] == 120 and status["jobStatus"] == "CompletedSuccess"
    assert status["evaluationDate"] > before["evaluationStatus"]["evaluationDate"]
    history = served["evaluationStatusHistory"]
    assert history[0]["entityCount"] == 120 and 3 <= len(history) <= 5
    assert _ok(ci_api.get(f"{INST}/manage/entities/HighValueCustomers/entitysize"))["rowCount"] == 120
    members = _ok(ci_api.get(f"{INST}/data/Customer", params={
        "$filter": "IsMemberOfSegment('HighValueCustomers')", "$top": "0"}))
    assert members["@odata.count"] == 120
    ci_sim.control.set_segment_count("HighValueCustomers", 5)
    assert _ok(ci_api.get(f"{INST}/data/HighValueCustomers"))["@odata.count"] == 5


def test_measure_values(ci_sim: CISimulator, ci_api: ApiClient) -> None:
    before = _ok(ci_api.get(f"{INST}/manage/measures/TotalRevenue"))
    assert before["definition"]["isScalar"] is True
    ci_sim.control.set_measure_value("TotalRevenue", 250000.25)
    after = _ok(ci_api.get(f"{INST}/manage/measures/TotalRevenue"))
    assert after["output"]["values"] == {"TotalRevenue": "250000.25"}
    assert after["output"]["evaluationTime"] > before["output"]["evaluationTime"]
    assert after["latestEvaluation"]["state"] == "completed"
    assert _ok(ci_api.get(f"{INST}/data/TotalRevenue"))["value"] == [{"TotalRevenue": 250000.25}]
    dimensioned = ci_sim.control.set_measure_value("RevenueByCountry", values={"US": 1, "GB": 2})
    assert dimensioned["output"]["values"] == {"US": "1", "GB": "2"}
    assert dimensioned["definition"]["isScalar"] is False
    with pytest.raises(SimulatorControlError):
        ci_sim.control.set_measure_value("RevenueByCountry", 5)
    with pytest.raises(SimulatorControlError):
        ci_sim.control.set_measure_value("CustomerLifetimeSpend", 5)


def test_add_and_delete_objects(ci_sim: CISimulator, ci_api: ApiClient) -> None:
    control = ci_sim.control
    added = control.add_data_source("Webshop", kind="salesforce", entities=["Leads", "Orders"])
    ds_id = added["dataSourceMetadata"]["dataSourceId"]
    assert _source(ci_api, "Webshop")["entityNames"] == ["Leads", "Orders"]
    assert _ok(ci_api.get(f"{INST}/manage/entities/Webshop_Leads"))["datasourceId"] == ds_id
    assert _node(ci_api, "ingestion", ds_id)["taskStatus"] == "needsUpdate"
    control.add_segment("VIP", 3, friendly_name="Very important")
    control.add_measure("AverageOrder", 42.5)
    control.add_measure("OrdersByStore", values={"S001": 3}, is_scalar=False, dimension="StoreId")
    assert _ok(ci_api.get(f"{INST}/manage/measures/AverageOrder"))["output"]["values"] == {"AverageOrder": "42.5"}
    assert _ok(ci_api.get(f"{INST}/data/VIP"))["@odata.count"] == 3
    control.delete_data_source(ds_id)
    control.delete_segment("VIP")
    control.delete_measure("AverageOrder")
    assert "Webshop" not in {d["dataSourceMetadata"]["name"] for d in _ok(ci_api.get(f"{INST}/manage/datasources"))}
    assert ci_api.get(f"{INST}/manage/entities/Webshop_Leads").status_code == 404
    assert ci_api.get(f"{INST}/manage/measures/AverageOrder").status_code == 404
    assert "VIP" not in {s["name"] for s in _ok(ci_api.get(f"{INST}/manage/segments"))}


def test_add_instances(ci_sim: CISimulator, ci_api: ApiClient) -> None:
    empty = ci_sim.control.add_instance("Fabrikam")
    copy = ci_sim.control.add_instance("Contoso Copy", instance_id="0d9e7a52-4a3b-4c1d-8e2f-3a4b5c6d7e8f",
                                       sample=True)
    names = {i["name"] for i in _ok(ci_api.get("/instances"))}
    assert {"Contoso Retail", "Fabrikam", "Contoso Copy"} <= names
    assert _ok(ci_api.get(f"/instances/{empty['instanceId']}/manage/datasources")) == []
    assert len(_ok(ci_api.get(f"/instances/{copy['instanceId']}/manage/segments"))) == 3
    ci_sim.control.add_segment("Fresh", 0, instance_id=empty["instanceId"])
    ci_sim.control.reset()
    assert [i["name"] for i in _ok(ci_api.get("/instances"))] == ["Contoso Retail"]


@pytest.mark.parametrize("call, status", [
    (lambda c: c.add_data_source("eCommerce"), 409),
    (lambda c: c.add_data_source("bad name"), 400),
    (lambda c: c.add_data_source("X", kind="ftp"), 400),
    (lambda c: c.delete_data_source("Nope"), 404),
    (lambda c: c.start_refresh("Nope"), 404),
    (lambda c: c.set_segment_count("Nope", 1), 404),
    (lambda c: c.set_segment_count("ChurnRisk", -1), 400),
    (lambda c: c.add_segment("Customer"), 409),
    (lambda c: c.set_measure_value("Nope", 1), 404),
    (lambda c: c.run_full_refresh(run="later"), 400),
    (lambda c: c.advance_job("8c5b8a3e-0d2f-4f4c-9f61-0b1f1c0e8a11"), 404),
    (lambda c: c.add_fault("x"), 400),
    (lambda c: c.add_fault("(", 500), 400),
    (lambda c: c.add_fault("x", 599), 400),
    (lambda c: c.set_token_lifetime(0), 400),
    (lambda c: c.add_instance("X", instance_id="not-a-uuid"), 400),
    (lambda c: c._call("PUT", "/odata/next-link", {"enabled": True, "bogus": 1}), 400),
    (lambda c: c._call("GET", "/nope"), 404),
], ids=["dup-source", "bad-name", "bad-kind", "delete-unknown", "refresh-unknown", "count-unknown",
        "negative-count", "segment-name-taken", "measure-unknown", "bad-run", "job-unknown", "fault-no-effect",
        "fault-bad-regex", "fault-bad-status", "zero-lifetime", "bad-instance-id", "unknown-field", "unknown-route"])
def test_control_validation(ci_sim: CISimulator, call: Any, status: int) -> None:
    with pytest.raises(SimulatorControlError) as err:
        call(ci_sim.control)
    assert err.value.status == status


def test_request_log_counts_api_calls(ci_sim: CISimulator, ci_api: ApiClient) -> None:
    ci_api.fetch_token()
    ci_api.get(f"{INST}/manage/segments")
    ci_api.get(f"{INST}/manage/segments")
    ci_api.get(f"{INST}/manage/workflows/main/jobs")
    ci_api.get(f"{INST}/workflows/main/jobs")
    ci_sim.control.health()
    log = ci_sim.control.request_log()
    assert log["total"] == 4 and log["token_requests"] == 1
    assert log["calls"][f"GET /v1{INST}/manage/segments"] == 2
    assert log["operations"] == {"Get-all-segments": 2, "Get-list-of-recent-workflow-jobs": 2}
    ci_sim.control.reset_request_log()
    assert ci_sim.control.request_log() == {"total": 0, "token_requests": 0, "calls": {}, "operations": {},
                                            "forms": {}}


def test_reset_restores_sample(ci_sim: CISimulator, ci_api: ApiClient) -> None:
    ci_sim.control.delete_segment("ChurnRisk")
    ci_sim.control.set_next_link(True)
    ci_sim.control.add_fault("/nothing", 500)
    ci_sim.control.reset()
    assert "ChurnRisk" in {s["name"] for s in _ok(ci_api.get(f"{INST}/manage/segments"))}
    assert ci_sim.control.faults() == []
    assert "@odata.nextLink" not in _ok(ci_api.get(f"{INST}/data/Customer"))
