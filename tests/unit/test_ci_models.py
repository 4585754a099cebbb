"""CI models parse real field names and name the field when a payload is odd."""
import pytest

from ciconnector.customer_insights import DataSource, Job, Measure, Segment, UnexpectedResponseError
from ciconnector.customer_insights.retry import RetryPolicy, parse_retry_after

DS_ID = "1a2b3c4d-0000-4000-8000-000000000001"


def data_source(**meta):
    return {"dataSourceMetadata": {"dataSourceId": DS_ID.upper(), "name": "PoS", "friendlyName": "Point of sale",
                                   "refreshState": "updateFailed", "lastRefresh": "2026-11-25T10:00:00Z",
                                   "kind": "powerQuery", **meta}, "model": {}}


def test_data_source_parses_wrapper_and_normalises_id():
    ds = DataSource.from_api(data_source())
    assert ds.data_source_id == DS_ID
    assert ds.refresh_state == "updateFailed"
    assert ds.last_refresh.isoformat() == "2026-11-25T10:00:00+00:00"
    assert ds.display_name == "Point of sale"


@pytest.mark.parametrize("payload, field", [
    ({"model": {}}, "dataSourceMetadata"),
    (data_source(dataSourceId=None), "dataSourceMetadata.dataSourceId"),
    (data_source(name=7), "dataSourceMetadata.name"),
    (data_source(lastRefresh="yesterday"), "dataSourceMetadata.lastRefresh"),
    ([], ""),
])
def test_data_source_names_the_bad_field(payload, field):
    with pytest.raises(UnexpectedResponseError) as err:
        DataSource.from_api(payload)
    assert err.value.field == field


def test_segment_member_count_is_evaluation_status_entity_count():
    seg = Segment.from_api({"name": "HighValue", "state": "active",
                            "evaluationStatus": {"jobStatus": "CompletedSuccess", "entityCount": 1250}})
    assert seg.member_count == 1250 and seg.evaluation_status == "CompletedSuccess"
    assert Segment.from_api({"name": "New"}).member_count is None
    with pytest.raises(UnexpectedResponseError) as err:
        Segment.from_api({"name": "X", "evaluationStatus": {"entityCount": "many"}})
    assert err.value.field == "evaluationStatus.entityCount"
    with pytest.raises(UnexpectedResponseError):
        Segment.from_api({"name": "X", "evaluationStatus": {"entityCount": True}})


@pytest.mark.parametrize("values, expected", [
    ({"TotalRevenue": "1250.5"}, 1250.5),
    ({"value": "3"}, 3.0),
    ({"Other": "1", "TotalRevenue": "2"}, 2.0),
    ({}, None),
    (None, None),
])
def test_measure_scalar_value(values, expected):
    output = None if values is None else {"values": values, "measureName": "TotalRevenue"}
    m = Measure.from_api({"name": "TotalRevenue", "definition": {"isScalar": True}, "output": output})
    assert m.is_scalar and m.value == expected


@pytest.mark.parametrize("values, field", [
    ({"TotalRevenue": "n/a"}, "output.values.TotalRevenue"),
    ({"a": "1", "b": "2"}, "output.values"),
])
def test_measure_odd_output_names_field(values, field):
    with pytest.raises(UnexpectedResponseError) as err:
        Measure.from_api({"name": "TotalRevenue", "definition": {"isScalar": True}, "output": {"values": values}})
    assert err.value.field == field


def test_dimensioned_measure_has_no_scalar_value():
    m = Measure.from_api({"name": "RevenueByCountry", "definition": {"isScalar": False},
                          "output": {"values": {"US": "10", "DE": "7"}}})
    assert not m.is_scalar and m.value is None


def test_job_with_tasks_and_error_detail():
    job = Job.from_api({"jobId": "J1", "jobStatus": "failed", "operationType": "all", "jobSubmissionKind": "scheduled",
                        "tasks": [{"taskId": "T1", "taskStatus": "failed", "operationType": "merge", "jobIds": ["J1"],
                                   "ciError": {"errorCode": "matchMergeOrchestrationFailed", "message": "boom"}}]})
    assert job.is_terminal and job.job_id == "j1"
    assert job.tasks[0].error.error_code == "matchMergeOrchestrationFailed"
    with pytest.raises(UnexpectedResponseError) as err:
        Job.from_api({"jobId": "J1", "jobStatus": "running", "tasks": [{"taskId": "T"}]})
    assert err.value.field == "tasks[0].taskStatus"


def test_retry_after_forms():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2099 07:28:00 GMT") > 10**8


def test_backoff_grows_and_prefers_retry_after():
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    assert policy.delay(1, 5.0) == 5.0
    assert 0.5 <= policy.delay(1, None) <= 1.0
    assert 4.0 <= policy.delay(4, None) <= 8.0
    assert policy.delay(10, None) <= 8.0
