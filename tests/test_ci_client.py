"""The CI client against the simulator over HTTPS, with real MSAL and real retries."""
from __future__ import annotations

import dataclasses
import time

import pytest
import requests

from ciconnector.customer_insights import (
    AuthenticationError,
    CustomerInsightsClient,
    NotFoundError,
    ServiceError,
    ThrottledError,
    UnexpectedResponseError,
)
from ciconnector.customer_insights.retry import RetryPolicy
from ciconnector.customer_insights.transport import build_session
from ciconnector.settings import Settings
from dev.cisim import SAMPLE_INSTANCE_ID


def make_client(sim, **overrides) -> CustomerInsightsClient:
    settings = Settings.from_environ(sim.settings_env()).ci
    return CustomerInsightsClient(dataclasses.replace(settings, **overrides))


def log(sim) -> dict:
    return sim.control.request_log()


def test_token_is_reused_from_msal_cache(ci_sim):
    client = make_client(ci_sim)
    client.list_instances()
    client.list_instances()
    client.get_instance(SAMPLE_INSTANCE_ID)
    assert log(ci_sim)["token_requests"] == 1
    assert log(ci_sim)["total"] == 3


def test_token_is_renewed_before_it_expires(ci_sim):
    # MSAL renews tokens within five minutes of expiry: a 2-minute token is renewed on every call.
    ci_sim.control.set_token_lifetime(120)
    client = make_client(ci_sim)
    client.list_instances()
    client.list_instances()
    assert log(ci_sim)["token_requests"] == 2


def test_token_revoked_server_side_is_replaced_once(ci_sim):
    client = make_client(ci_sim)
    client.list_instances()
    assert ci_sim.control.expire_tokens() >= 1
    assert [i.instance_id for i in client.list_instances()]
    assert log(ci_sim)["token_requests"] == 2


def test_wrong_secret_is_an_authentication_error(ci_sim):
    client = make_client(ci_sim, client_secret="wrong")
    with pytest.raises(AuthenticationError) as err:
        client.list_instances()
    assert err.value.error_code == "invalid_client"
    assert log(ci_sim)["total"] == 0


def test_wrong_subscription_key_is_an_authentication_error(ci_sim):
    client = make_client(ci_sim, subscription_key="not-the-key")
    with pytest.raises(AuthenticationError) as err:
        client.list_instances()
    assert err.value.status == 401


def test_api_answers_401_without_key_or_token(ci_sim):
    env = ci_sim.settings_env()
    url = f"{env['CI_API_BASE_URL']}/instances"
    with requests.Session() as s:
        s.verify, s.trust_env = env["CI_CA_BUNDLE"], False
        no_auth = s.get(url, timeout=10)
        token = make_client(ci_sim)._transport._tokens.token()
        no_key = s.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    for answer in (no_auth, no_key):
        assert answer.status_code == 401
        assert "WWW-Authenticate" in answer.headers
        assert answer.content == b""


def recorded_client(sim) -> tuple[CustomerInsightsClient, list[str]]:
    """A client whose session records the URL of every CI answer (real HTTP, observed)."""
    settings = Settings.from_environ(sim.settings_env()).ci
    session = build_session(settings)
    urls: list[str] = []
    session.hooks["response"].append(lambda response, *args, **kwargs: urls.append(response.url))
    return CustomerInsightsClient(settings, session=session), urls


def data_urls(urls: list[str]) -> list[str]:
    return [u for u in urls if "/data/" in u]


def test_paging_by_skip_returns_every_row_once(ci_sim):
    client, urls = recorded_client(ci_sim)
    total = client.query_data(SAMPLE_INSTANCE_ID, "Customer", top=1).count
    assert total and total > 200
    urls.clear()
    rows = list(client.list_data(SAMPLE_INSTANCE_ID, "Customer"))
    ids = [r["CustomerId"] for r in rows]
    assert len(ids) == total == len(set(ids))
    assert len(data_urls(urls)) == -(-total // 100)
    assert all("$skip=" not in u for u in urls)  # our own $skip is percent-encoded; see the next test


def test_paging_follows_next_link(ci_sim):
    ci_sim.control.set_next_link(True)
    client, urls = recorded_client(ci_sim)
    rows = list(client.list_data(SAMPLE_INSTANCE_ID, "Customer", filter="CustomerId ne 'none'"))
    total = client.query_data(SAMPLE_INSTANCE_ID, "Customer", top=1).count
    assert len({r["CustomerId"] for r in rows}) == len(rows) == total
    followed = data_urls(urls)[1:-1]
    # the simulator writes nextLinks with a literal "$skip="; the client's own requests encode it as %24skip
    assert followed and all("$skip=" in u and "$filter=" in u for u in followed)


def test_paging_stops_at_max_items(ci_sim):
    client, urls = recorded_client(ci_sim)
    assert len(list(client.list_data(SAMPLE_INSTANCE_ID, "Customer", max_items=150))) == 150
    assert len(data_urls(urls)) == 2


def test_retry_honours_retry_after(ci_sim):
    ci_sim.control.add_fault(r"/instances$", 429, retry_after=1, times=1)
    client = make_client(ci_sim)
    started = time.monotonic()
    assert client.list_instances()
    assert time.monotonic() - started >= 1.0
    assert log(ci_sim)["total"] == 2


def test_throttling_beyond_the_budget_raises_at_once(ci_sim):
    ci_sim.control.add_fault(r"/instances$", 429, retry_after=3600, times=5)
    started = time.monotonic()
    with pytest.raises(ThrottledError) as err:
        make_client(ci_sim).list_instances()
    assert err.value.retry_after == 3600
    assert time.monotonic() - started < 30
    assert log(ci_sim)["total"] == 1


def test_503_is_retried_then_succeeds(ci_sim):
    ci_sim.control.add_fault(r"/manage/segments$", 503, times=2)
    client = CustomerInsightsClient(Settings.from_environ(ci_sim.settings_env()).ci,
                                    retry_policy=RetryPolicy(max_attempts=4, base_delay=0.05))
    assert client.list_segments(SAMPLE_INSTANCE_ID)
    assert log(ci_sim)["total"] == 3


def test_persistent_5xx_becomes_a_service_error(ci_sim):
    ci_sim.control.add_fault(r"/manage/segments$", 503, times=10)
    client = CustomerInsightsClient(Settings.from_environ(ci_sim.settings_env()).ci,
                                    retry_policy=RetryPolicy(max_attempts=3, base_delay=0.05))
    with pytest.raises(ServiceError) as err:
        client.list_segments(SAMPLE_INSTANCE_ID)
    assert err.value.status == 503
    assert log(ci_sim)["total"] == 3


def test_500_is_not_retried(ci_sim):
    ci_sim.control.add_fault(r"/manage/measures$", 500, times=5)
    with pytest.raises(ServiceError):
        make_client(ci_sim).list_measures(SAMPLE_INSTANCE_ID)
    assert log(ci_sim)["total"] == 1


def test_timeout_is_retried_then_reported(ci_sim):
    ci_sim.control.add_fault(r"/manage/datasources$", delay_seconds=2, times=2)
    client = CustomerInsightsClient(
        dataclasses.replace(Settings.from_environ(ci_sim.settings_env()).ci, timeout_seconds=0.5),
        retry_policy=RetryPolicy(max_attempts=2, base_delay=0.05))
    with pytest.raises(ServiceError, match="timed out"):
        client.list_data_sources(SAMPLE_INSTANCE_ID)


def test_malformed_json_is_an_unexpected_response(ci_sim):
    ci_sim.control.add_fault(r"/manage/segments$", malformed_json=True, times=1)
    with pytest.raises(UnexpectedResponseError):
        make_client(ci_sim).list_segments(SAMPLE_INSTANCE_ID)


def test_unknown_instance_is_not_found(ci_sim):
    with pytest.raises(NotFoundError) as err:
        make_client(ci_sim).get_instance("00000000-0000-4000-8000-0000000000ff")
    assert err.value.status == 404


@pytest.mark.parametrize("workflow_path", ["workflows", "manage/workflows"])
def test_both_workflow_path_forms(ci_sim, workflow_path):
    client = make_client(ci_sim, workflow_path=workflow_path)
    jobs = client.list_jobs(SAMPLE_INSTANCE_ID, include_tasks=True)
    assert jobs and all(j.job_status for j in jobs)
    assert client.get_workflow_status(SAMPLE_INSTANCE_ID)
    assert client.list_task_history(SAMPLE_INSTANCE_ID)
    job = client.submit_job(SAMPLE_INSTANCE_ID, operation_type="segmentation")
    assert client.get_job(SAMPLE_INSTANCE_ID, job.job_id).job_id == job.job_id
    assert log(ci_sim)["forms"]["workflow_path"] == {workflow_path: 5}


def test_default_workflow_path_is_the_documented_one(ci_sim):
    make_client(ci_sim).list_jobs(SAMPLE_INSTANCE_ID)
    assert log(ci_sim)["forms"]["workflow_path"] == {"manage/workflows": 1}


@pytest.mark.parametrize("workflow_path, operation_type, identifiers", [
    ("manage/workflows", "Ingestion", "quoted"),  # as the docs' "Refresh a data source" example
    ("workflows", "ingestion", "plain"),  # as the 2021 code model's csv
])
def test_refresh_query_follows_the_path_form(ci_sim, workflow_path, operation_type, identifiers):
    client = make_client(ci_sim, workflow_path=workflow_path)
    sources = client.list_data_sources(SAMPLE_INSTANCE_ID)
    ids = [s.data_source_id for s in sources[:2]]
    job = client.submit_job(SAMPLE_INSTANCE_ID, operation_type="ingestion", identifiers=ids, force_run=True)
    assert job.operation_type == "ingestion" and job.job_status == "running"
    forms = log(ci_sim)["forms"]
    assert forms["operation_type"] == {operation_type: 1} and forms["identifiers"] == {identifiers: 1}
    full = client.submit_job(SAMPLE_INSTANCE_ID, operation_type="all", force_run=True)
    assert full.operation_type == "all" and log(ci_sim)["forms"]["operation_type"]["all"] == 1


def test_sample_resources_parse_into_models(ci_sim):
    client = make_client(ci_sim)
    sources = client.list_data_sources(SAMPLE_INSTANCE_ID)
    assert sources and all(s.refresh_state for s in sources)
    assert client.get_data_source(SAMPLE_INSTANCE_ID, sources[0].data_source_id) == sources[0]
    segments = client.list_segments(SAMPLE_INSTANCE_ID)
    assert any(s.member_count for s in segments)
    measures = client.list_measures(SAMPLE_INSTANCE_ID)
    scalar = [m for m in measures if m.is_scalar]
    assert scalar and any(m.value is not None for m in scalar) and any(not m.is_scalar for m in measures)
    assert client.get_measure(SAMPLE_INSTANCE_ID, scalar[0].name).name == scalar[0].name
    entities = client.list_entities(SAMPLE_INSTANCE_ID)
    assert {"Customer", "UnifiedActivity"} <= {e.get("name") for e in entities}


def test_refresh_failure_is_visible_through_the_client(ci_sim):
    client = make_client(ci_sim)
    source = client.list_data_sources(SAMPLE_INSTANCE_ID)[0]
    ci_sim.control.start_refresh(source.name)
    assert client.get_data_source(SAMPLE_INSTANCE_ID, source.data_source_id).refresh_state == "updating"
    ci_sim.control.fail_refresh(source.name, "source unreachable")
    failed = client.get_data_source(SAMPLE_INSTANCE_ID, source.data_source_id)
    assert failed.refresh_state == "updateFailed" and failed.last_refresh is not None


def test_create_and_update_item(ci_sim):
    client = make_client(ci_sim)
    created = client.create_item(SAMPLE_INSTANCE_ID, "eCommerce_eCommerceContacts",
                                 {"ContactId": "new-1", "FirstName": "Ada"})
    assert isinstance(created, dict)
    client.update_item(SAMPLE_INSTANCE_ID, "eCommerce_eCommerceContacts", "new-1", {"FirstName": "Grace"})
    with pytest.raises(NotFoundError):
        client.update_item(SAMPLE_INSTANCE_ID, "eCommerce_eCommerceContacts", "missing-id", {"FirstName": "X"})
