"""The instance allowlist (CI_INSTANCE_IDS) and CI timeouts, through the local host."""
from __future__ import annotations

import pytest

from dev.cisim import SAMPLE_INSTANCE_ID

OTHER_INSTANCE = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


@pytest.fixture(scope="module")
def strict_host(funchost_factory, app_env):
    """The app allowing only the sample instance, with one 1-second attempt per CI call."""
    started = funchost_factory.start(env={
        **app_env, "CI_INSTANCE_IDS": SAMPLE_INSTANCE_ID.upper(), "CI_MAX_ATTEMPTS": "1", "CI_TIMEOUT_SECONDS": "1"})
    yield started
    started.stop()


@pytest.fixture
def other_instance(ci_sim):
    """A second instance that exists in CI but is outside the allowlist."""
    ci_sim.control.add_instance("Fabrikam", instance_id=OTHER_INSTANCE, sample=True)
    return OTHER_INSTANCE


def test_instances_outside_the_allowlist_are_hidden_and_refused(strict_host, other_instance, ci_sim):
    listed = [i["instanceId"] for i in strict_host.request("GET", "/api/instances").json()["value"]]
    assert listed == [SAMPLE_INSTANCE_ID]
    assert [i["id"] for i in strict_host.request("GET", "/api/lookups/instances").json()["value"]] == listed
    ci_sim.control.reset_request_log()
    for path, field in (("segments", "instanceId"), ("data/Customer", "instanceId"),
                        ("reports/jobs", "dataset"), ("lookups/entities", "instanceId")):
        response = strict_host.request("GET", f"/api/instances/{other_instance}/{path}")
        assert response.status_code == 404, path
        assert response.json() == {"code": "InstanceNotFound", "field": field,  # the reference's name for reports
                                   "message": "No such Customer Insights instance is available."}
    refused = strict_host.request("POST", f"/api/instances/{other_instance}/refreshes", params={"scope": "full"})
    assert refused.status_code == 404
    assert other_instance not in str(ci_sim.control.request_log())


def test_allowlisted_instance_works_in_any_case(strict_host, ci_sim):
    response = strict_host.request("GET", f"/api/instances/{SAMPLE_INSTANCE_ID.upper()}/segments")
    assert response.status_code == 200 and response.json()["value"]


def test_a_ci_timeout_is_a_502(strict_host, ci_sim):
    ci_sim.control.add_fault("/manage/segments$", delay_seconds=3)
    response = strict_host.request("GET", f"/api/instances/{SAMPLE_INSTANCE_ID}/segments")
    assert response.status_code == 502
    assert response.json()["code"] == "UpstreamError"
