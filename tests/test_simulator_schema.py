"""CI simulator: every served endpoint answers with the code model's response schema.

The scenario below puts the sample instance into varied states first (failed and cancelled
refreshes, a running job with queued tasks, fresh evaluations, a created row) so the optional
parts of the shapes (ciError, endTimestamp, history...) are exercised too.
"""
from __future__ import annotations

import json
from typing import Any, Iterator

import pytest
import requests

from dev.cisim import SAMPLE_INSTANCE_ID, ApiClient, CISimulator, api, data
from dev.cisim.codemodel import CodeModel, load

INST = f"/instances/{SAMPLE_INSTANCE_ID}"
UNKNOWN = "/instances/00000000-0000-4000-8000-000000000000"
NEW_CUSTOMER = {"CustomerId": "schema-new-1", "FullName": "Schema Test", "Country": "NL"}


@pytest.fixture(scope="module")
def model() -> CodeModel:
    return load()


@pytest.fixture(scope="module")
def scenario(ci_simulator: CISimulator) -> Iterator[dict[str, Any]]:
    """The simulator in a varied state, plus ids the cases need."""
    control = ci_simulator.control
    control.reset()
    control.start_refresh("Loyalty", outcome="fail", message="Credentials expired")
    control.start_refresh("PoS", outcome="cancel")
    control.set_segment_count("HighValueCustomers", 95)
    control.set_measure_value("TotalRevenue", 200000.5)
    control.add_segment("NewSegment", 7)
    running = control.run_full_refresh(submission_kind="onDemand", run="step")
    control.advance_job(running["jobId"])
    client = ApiClient(ci_simulator.settings_env())
    assert client.post(f"{INST}/data/Customer", json=NEW_CUSTOMER).status_code == 201
    cancelled = client.post(f"{INST}/workflows/main/jobs?operationType=segmentation").json()
    datasource = next(d for d in client.get(f"{INST}/manage/datasources").json()
                      if d["dataSourceMetadata"]["name"] == "eCommerce")
    yield {"client": client, "job": running["jobId"], "cancel": cancelled["jobId"],
           "ds": datasource["dataSourceMetadata"]["dataSourceId"]}
    client.close()


# (operationId, method, path, body, expected status). {job}/{ds}/{cancel} come from the scenario.
CASES: list[tuple[str, str, str, Any, int]] = [
    ("Get-all-instances", "GET", "/instances", None, 200),
    ("Get-instance-metadata", "GET", INST, None, 200),
    ("Get-instance-metadata", "GET", UNKNOWN, None, 404),
    ("Get-all-data-sources", "GET", f"{INST}/manage/datasources", None, 200),
    ("Get-all-data-sources", "GET", f"{INST}/manage/datasources/v2", None, 200),
    ("Get-all-data-sources", "GET", f"{UNKNOWN}/manage/datasources", None, 404),
    ("Get-data-source", "GET", f"{INST}/manage/datasources/{{ds}}", None, 200),
    ("Get-data-source", "GET", f"{INST}/manage/datasources/{{ds}}?includeModel=false", None, 200),
    ("Get-data-source", "GET", f"{INST}/manage/datasources/00000000-0000-0000-0000-000000000000", None, 404),
    ("Get-all-entity-metadata", "GET", f"{INST}/manage/entities", None, 200),
    ("Get-all-entity-metadata", "GET", f"{UNKNOWN}/manage/entities", None, 404),
    ("Get-entity-metadata", "GET", f"{INST}/manage/entities/Customer", None, 200),
    ("Get-entity-metadata", "GET", f"{INST}/manage/entities/eCommerce_eCommercePurchases", None, 200),
    ("Get-entity-metadata", "GET", f"{INST}/manage/entities/HighValueCustomers", None, 200),
    ("Get-entity-metadata", "GET", f"{INST}/manage/entities/Nope", None, 404),
    ("Get-entity-size", "GET", f"{INST}/manage/entities/Customer/entitysize", None, 200),
    ("Get-entity-size", "GET", f"{INST}/manage/entities/Nope/entitysize", None, 404),
    ("Get-entities-with-OData-path", "GET", f"{INST}/data/Customer?$top=5&$skip=3", None, 200),
    ("Get-entities-with-OData-path", "GET", f"{INST}/data/Customer?$select=CustomerId,Email&$orderby=Email desc",
     None, 200),
    ("Get-entities-with-OData-path", "GET", f"{INST}/data/Customer?$search=smith&forceSearch=true", None, 200),
    ("Get-entities-with-OData-path", "GET", f"{INST}/data/UnifiedActivity?$filter=Amount gt 100", None, 200),
    ("Get-entities-with-OData-path", "GET", f"{INST}/data/Customer?$filter=Country eq", None, 400),
    ("Get-entities-with-OData-path", "GET", f"{INST}/data/PoS_posPurchases?$filter=StoreId eq 'S001'", None, 400),
    ("Get-entities-with-OData-path", "GET", f"{INST}/data/Nope", None, 404),
    ("Get-entities-with-OData-path", "GET", f"{UNKNOWN}/data/Customer", None, 404),
    ("Create-an-entity", "POST", f"{INST}/data/Customer", {"CustomerId": "schema-new-2", "Country": "US"}, 201),
    ("Create-an-entity", "POST", f"{INST}/data/Customer", NEW_CUSTOMER, 409),
    ("Create-an-entity", "POST", f"{INST}/data/Customer", "{not json", 400),
    ("Update-an-entity", "PATCH", f"{INST}/data/Customer/schema-new-1", {"City": "Utrecht"}, 204),
    ("Update-an-entity", "PATCH", f"{INST}/data/Customer/nobody", {"City": "Utrecht"}, 404),
    ("Update-an-entity", "PATCH", f"{INST}/data/Customer/schema-new-1", {"Nope": 1}, 400),
    ("Get-all-segments", "GET", f"{INST}/manage/segments", None, 200),
    ("Get-all-segments", "GET", f"{INST}/manage/segments?includeHistoricStats=true&historicStatsDays=10", None, 200),
    ("Get-all-segments", "GET", f"{UNKNOWN}/manage/segments", None, 404),
    ("Get-a-list-of-measures-metadata", "GET", f"{INST}/manage/measures", None, 200),
    ("Get-a-list-of-measures-metadata", "GET", f"{UNKNOWN}/manage/measures", None, 404),
    ("Get-metadata-for-a-measure", "GET", f"{INST}/manage/measures/TotalRevenue?includeHistoricStats=true", None, 200),
    ("Get-metadata-for-a-measure", "GET", f"{INST}/manage/measures/RevenueByCountry", None, 200),
    ("Get-metadata-for-a-measure", "GET", f"{INST}/manage/measures/Nope", None, 404),
    ("Get-KeyRing", "GET", f"{INST}/profile/keyring?dataSourceName=eCommerce&entityName=eCommerceContacts&key=EC00001",
     None, 200),
    ("Get-KeyRing", "GET", f"{INST}/profile/keyring?dataSourceName=eCommerce", None, 400),
    ("Get-KeyRing", "GET", f"{INST}/profile/keyring?dataSourceName=eCommerce&entityName=eCommerceContacts&key=X",
     None, 404),
]
for _prefix in ("workflows", "manage/workflows"):
    _w = f"{INST}/{_prefix}/main"
    CASES += [
        ("Get-list-of-recent-workflow-jobs", "GET", f"{_w}/jobs?top=10&includeTasks=true", None, 200),
        ("Get-list-of-recent-workflow-jobs", "GET", f"{INST}/{_prefix}/other/jobs", None, 404),
        ("Submit-a-workflow-job", "POST", f"{_w}/jobs?operationType=Measures", None, 200),
        ("Submit-a-workflow-job", "POST", f"{_w}/jobs?operationType=ingestion&identifiers='{{ds}}'",
         {"submissionKind": "scheduled", "jobType": "full"}, 200),
        ("Submit-a-workflow-job", "POST", f"{_w}/jobs?operationType=ingestion&identifiers=nope", None, 404),
        ("Get-a-workflow-job-information", "GET", f"{_w}/jobs/{{job}}?includeTasks=true", None, 200),
        ("Get-a-workflow-job-information", "GET", f"{_w}/jobs/00000000-0000-0000-0000-000000000000", None, 404),
        ("Cancel-a-workflow-job", "POST", f"{_w}/jobs/{{cancel}}/cancel", None, 200),
        ("Get-list-of-workflow-task-information-history", "GET", f"{_w}/history?top=50", None, 200),
        ("Get-workflow-status", "GET", f"{_w}/status", None, 200),
        ("Get-workflow-schedules", "GET", f"{_w}/schedules", None, 200),
    ]
ERROR_TYPES = {"odata": "ODataError", "api": "ApiErrorResult"}


def _validate(model: CodeModel, instance: Any, schema: dict[str, Any]) -> None:
    errors = sorted(model.validator(schema).iter_errors(instance), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


def _case_id(case: tuple[str, str, str, Any, int]) -> str:
    return f"{case[1]} {case[2].replace(SAMPLE_INSTANCE_ID, '{id}')} -> {case[4]}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_response_matches_code_model(model: CodeModel, scenario: dict[str, Any], case: tuple[Any, ...]) -> None:
    operation_id, method, path, body, status = case
    client: ApiClient = scenario["client"]
    kwargs: dict[str, Any] = {}
    if isinstance(body, str):
        kwargs = {"data": body, "headers": {"Content-Type": "application/json-patch+json"}}
    elif body is not None:
        kwargs = {"json": body}
    response = client.request(method, path.format(**scenario), **kwargs)
    assert response.status_code == status, response.text
    operation = model.operations[operation_id]
    if status in operation.responses:
        schema = model.response_schema(operation_id, status)
    else:  # e.g. Get-data-source declares no 404: the body is still the family's error type
        family = "odata" if "/data/" in path else "api"
        schema = model.type_schema(ERROR_TYPES[family])
    if schema is None or status == 204:
        assert response.content == b""
    else:
        _validate(model, response.json(), schema)


def test_unauthorized_matches_code_model(model: CodeModel, ci_simulator: CISimulator) -> None:
    response = requests.Session().get(f"{ci_simulator.base_url}{INST}/manage/segments",
                                      verify=ci_simulator.ca_path, timeout=10)
    assert response.status_code == 401
    assert model.response_schema("Get-all-segments", 401) is None and response.content == b""
    assert "WWW-Authenticate" in response.headers


def test_every_served_operation_is_covered(model: CodeModel) -> None:
    served = {r.name for r in api.ROUTES + data.ROUTES}
    assert served <= set(model.operations)
    assert served == {c[0] for c in CASES}


def test_control_job_shapes_match(model: CodeModel, scenario: dict[str, Any], ci_simulator: CISimulator) -> None:
    job = ci_simulator.control.run_unification(fail_task="match", message="boom")
    _validate(model, job, model.type_schema("GraphJobInfo"))
    assert [t["taskStatus"] for t in job["tasks"]] == ["successful", "failed", "skipped"]


@pytest.mark.parametrize("type_name, instance", [
    ("GraphJobInfo", {"jobId": "8c5b8a3e-0d2f-4f4c-9f61-0b1f1c0e8a11", "status": "running"}),
    ("GraphJobInfo", {"jobStatus": "Running"}),
    ("SegmentMetadata", {"name": "x", "memberCount": 3}),
    ("SegmentationPublishStats", {"jobStatus": "completedSuccess"}),
    ("MeasureMetadata", {"output": {"values": {"x": 1}}}),
    ("GraphTaskInfo", {"submittedTimestamp": "yesterday"}),
    ("EntitySize", {"rowCount": "12"}),
])
def test_converter_rejects_invented_shapes(model: CodeModel, type_name: str, instance: Any) -> None:
    assert list(model.validator(model.type_schema(type_name)).iter_errors(instance))


def test_converter_open_and_nullable_parts(model: CodeModel) -> None:
    _validate(model, {"runDownstreamAfterMerge": True, "anything": [1]}, model.type_schema("GraphJobOptions"))
    _validate(model, {"size": None, "rowCount": 3}, model.type_schema("EntitySize"))
    assert model.response_schema("Get-all-instances")["items"] == {"$ref": "#/$defs/InstanceInfo"}
    assert json.dumps(model.defs)  # the schema set is plain JSON
