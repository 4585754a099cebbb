"""Hypothesis against the threshold trigger subscriptions, with strategies that produce VALID
subscriptions too (schemathesis alone almost never guesses an existing segment or measure).

Every example is POSTed through the local host: a 201 must store exactly one subscription (deleted
again at once), any 4xx must store none, and nothing may answer 5xx. Fixed seed, ``FUZZ_BUDGET``
examples per trigger kind.
"""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dev.cisim import SAMPLE_INSTANCE_ID as INSTANCE
from tests.fuzzstats import BUDGET, record
from tests.test_triggers_e2e import flow, list_subscriptions

pytestmark = pytest.mark.usefixtures("clean_app_state")

LIMIT = 2 ** 53
JUNK = st.one_of(st.none(), st.booleans(), st.text(max_size=40), st.integers(),
                 st.floats(allow_nan=False, allow_infinity=False), st.lists(st.integers(), max_size=3),
                 st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
DIRECTIONS = st.sampled_from(["above", "below", "either", "Above", None])
KINDS: dict[str, dict[str, Any]] = {
    "segmentThresholdCrossed": {
        "segmentName": st.sampled_from(["HighValueCustomers", "ChurnRisk"]),
        "threshold": st.one_of(st.integers(0, LIMIT), st.integers(0, 10_000).map(str)),
    },
    "measureThresholdCrossed": {
        "measureName": st.sampled_from(["TotalRevenue", "ActiveCustomers"]),
        "threshold": st.one_of(st.floats(-LIMIT, LIMIT, allow_nan=False), st.integers(-LIMIT, LIMIT)),
    },
}


def bodies(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    """Valid subscriptions of ``kind``, and the same with one field replaced by junk or dropped."""
    fields = {**KINDS[kind], "direction": DIRECTIONS}
    valid = st.fixed_dictionaries(fields)

    def spoil(body: dict[str, Any], field: str, junk: Any, drop: bool) -> dict[str, Any]:
        spoiled = {k: v for k, v in body.items() if not (drop and k == field)}
        return spoiled if drop else {**spoiled, field: junk}
    invalid = st.builds(spoil, valid, st.sampled_from(sorted(fields)), JUNK, st.booleans())
    return st.one_of(valid, valid, invalid)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_threshold_subscriptions_store_exactly_what_they_accept(app_host, receiver, kind):
    path = f"/api/instances/{INSTANCE}/triggers/{kind}/subscriptions"

    @given(body=bodies(kind))
    @settings(max_examples=BUDGET, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(body):
        before = len(list_subscriptions(app_host))
        response = app_host.request("POST", path, json={"callbackUrl": receiver.callback_url(flow()), **body})
        stored = len(list_subscriptions(app_host)) - before
        record(f"POST /instances/{{instanceId}}/triggers/{kind}/subscriptions", response.status_code,
               stored_on_4xx=stored)
        assert response.status_code < 500, response.text
        if response.status_code == 201:
            assert stored == 1
            app_host.request("DELETE", response.headers["Location"].removeprefix(app_host.base_url))
        else:
            assert 400 <= response.status_code < 500 and stored == 0, response.text

    run()
