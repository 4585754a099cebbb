"""Every action through the local Functions host over HTTP, against the CI simulator's sample instance."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from dev.cisim import SAMPLE_INSTANCE_ID
from dev.cisim.sample import CUSTOMER_COUNT

BASE = f"/api/instances/{SAMPLE_INSTANCE_ID}"
UNKNOWN_INSTANCE = "0f0e0d0c-0b0a-4908-8706-050403020100"


@pytest.fixture
def host(app_host):
    """The app on the local host, wired to the simulator."""
    return app_host


@pytest.fixture
def api(host, ci_sim):
    """GET/POST/PATCH through the host with the function key, on a freshly reset simulator."""
    def call(method: str, path: str, **kwargs):
        return host.request(method, path, **kwargs)
    return call


def _ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


def _error(response, status: int, code: str | None = None, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) <= {"code", "message", "field"} and body["message"]
    assert "Traceback" not in response.text
    if code:
        assert body["code"] == code
    if field:
        assert body["field"] == field
    return body


def _customers(api, **query) -> dict:
    return _ok(api("GET", f"{BASE}/data/Customer", params=query))


# Instances and lookups
def test_list_instances_and_instance_lookup(api):
    listed = _ok(api("GET", "/api/instances"))["value"]
    assert {"instanceId": SAMPLE_INSTANCE_ID, "name": "Contoso Retail"}.items() <= next(
        i for i in listed if i["instanceId"] == SAMPLE_INSTANCE_ID).items()
    lookup = _ok(api("GET", "/api/lookups/instances"))["value"]
    assert {"id": SAMPLE_INSTANCE_ID, "name": "Contoso Retail"} in lookup


def test_lookups_fill_dropdowns(api):
    sources = _ok(api("GET", f"{BASE}/lookups/datasources"))["value"]
    assert {"name": "Loyalty", "displayName": "Loyalty program"}.items() <= next(
        s for s in sources if s["name"] == "Loyalty").items()
    segments = _ok(api("GET", f"{BASE}/lookups/segments"))["value"]
    assert segments and all(set(s) == {"name", "displayName"} for s in segments)
    every = _ok(api("GET", f"{BASE}/lookups/measures"))["value"]
    scalar = _ok(api("GET", f"{BASE}/lookups/measures", params={"scalarOnly": "true"}))["value"]
    assert scalar and all(m["isScalar"] for m in scalar) and len(scalar) < len(every)
    entities = [e["name"] for e in _ok(api("GET", f"{BASE}/lookups/entities"))["value"]]
    assert {"Customer", "UnifiedActivity"} <= set(entities)


# Entities and items
def test_get_entities_and_partitions(api):
    entities = {e["name"]: e for e in _ok(api("GET", f"{BASE}/entities"))["value"]}
    assert entities["Customer"]["entityType"] == "profile"
    assert "CustomerId" in [a["name"] for a in entities["Customer"]["attributes"]]
    partitions = _ok(api("GET", f"{BASE}/entities/Customer/partitions"))["value"]
    assert partitions and all("name" in p for p in partitions)
    _error(api("GET", f"{BASE}/entities/NoSuchTable/partitions"), 404, "NotFound")


def test_get_items_pages_with_next_link(api, host):
    first = _customers(api, **{"$top": "5", "$orderby": "CustomerId"})
    assert len(first["value"]) == 5
    link = first["@odata.nextLink"]
    assert urlsplit(link).netloc == urlsplit(host.base_url).netloc
    assert parse_qs(urlsplit(link).query)["$skip"] == ["5"]
    second = _ok(host.request("GET", link.removeprefix(host.base_url)))
    ids = [r["CustomerId"] for r in first["value"] + second["value"]]
    assert len(set(ids)) == 10 and ids == sorted(ids)


def test_get_items_reads_past_ci_page_size_and_stops_at_the_end(api):
    everything = _customers(api, **{"$top": "1000", "$select": "CustomerId,FullName"})
    assert len(everything["value"]) == CUSTOMER_COUNT
    assert "@odata.nextLink" not in everything
    assert set(everything["value"][0]) == {"CustomerId", "FullName"}


def test_get_items_filter(api):
    customer = _customers(api, **{"$top": "1"})["value"][0]
    found = _customers(api, **{"$filter": f"CustomerId eq '{customer['CustomerId']}'"})
    assert found["value"] == [customer] and "@odata.nextLink" not in found


def test_get_items_errors(api):
    _error(api("GET", f"{BASE}/data/Customer", params={"$filter": "CustomerId eq"}), 400, "BadRequest")
    _error(api("GET", f"{BASE}/data/NoSuchTable"), 404, "NotFound")
    _error(api("GET", f"{BASE}/data/Customer", params={"$top": "0"}), 400, "ParameterOutOfRange", "$top")
    _error(api("GET", f"{BASE}/data/Customer", params={"$select": "a;b"}), 400, "InvalidParameter", "$select")
    _error(api("GET", f"{BASE}/data/eCommerce_eCommerceContacts", params={"$filter": "ContactId eq 'x'"}),
           400, "BadRequest")


def test_get_item_by_key(api, ci_sim):
    customer = _customers(api, **{"$top": "1"})["value"][0]
    assert _ok(api("GET", f"{BASE}/data/Customer/{customer['CustomerId']}")) == customer
    activity = _ok(api("GET", f"{BASE}/data/UnifiedActivity", params={"$top": "1"}))["value"][0]
    got = _ok(api("GET", f"{BASE}/data/UnifiedActivity/{activity['ActivityId']}", params={"keyName": "ActivityId"}))
    assert got == activity


def test_get_item_escapes_the_key(api):
    # unescaped, this key would turn the filter into "CustomerId eq 'x' or CustomerId ne 'y'" (every row)
    _error(api("GET", f"{BASE}/data/Customer/x' or CustomerId ne 'y"), 404, "ItemNotFound", "itemId")
    _ok(api("POST", f"{BASE}/data/Customer", json={"CustomerId": "O'Brien-1", "FullName": "Pat O'Brien"}), 201)
    assert _ok(api("GET", f"{BASE}/data/Customer/O'Brien-1"))["FullName"] == "Pat O'Brien"
    _error(api("GET", f"{BASE}/data/Customer/abc", params={"keyName": "CustomerId ne 'x' or 1"}),
           400, "InvalidParameter", "keyName")
    _error(api("GET", f"{BASE}/data/NoSuchTable/abc"), 404, "NotFound")


def test_create_and_update_item(api):
    created = _ok(api("POST", f"{BASE}/data/Customer", json={"CustomerId": "new-1", "FullName": "Ada Lovelace"}), 201)
    assert created["status"] == "created" and created["item"]["FullName"] == "Ada Lovelace"
    assert created["itemId"] == "new-1" and "location" not in created, "the key, never CI's own URL"
    updated = _ok(api("PATCH", f"{BASE}/data/Customer/new-1", json={"City": "London"}))
    assert updated == {"entityName": "Customer", "itemId": "new-1", "status": "updated"}
    assert _ok(api("GET", f"{BASE}/data/Customer/new-1"))["City"] == "London"
    _error(api("POST", f"{BASE}/data/Customer", json={"CustomerId": "new-1"}), 400, "BadRequest")
    _error(api("PATCH", f"{BASE}/data/Customer/missing", json={"City": "Oslo"}), 404, "ItemNotFound", "itemId")
    _error(api("POST", f"{BASE}/data/Customer", data=b"{oops", headers={"Content-Type": "application/json"}),
           400, "InvalidJson", "item")
    _error(api("POST", f"{BASE}/data/Customer", data=b"{}", headers={"Content-Type": "text/plain"}),
           400, "UnsupportedContentType", "item")


# Resources, reports, refresh
def test_list_data_sources_segments_measures(api):
    sources = {s["name"]: s for s in _ok(api("GET", f"{BASE}/datasources"))["value"]}
    assert sources["Loyalty"]["refreshState"] == "updateFailed" and "lastRefresh" in sources["Loyalty"]
    segments = _ok(api("GET", f"{BASE}/segments"))["value"]
    assert any(isinstance(s.get("memberCount"), int) for s in segments)
    measures = _ok(api("GET", f"{BASE}/measures"))["value"]
    assert any(m["isScalar"] and isinstance(m.get("value"), (int, float)) for m in measures)
    assert any(not m["isScalar"] and "value" not in m for m in measures)


@pytest.mark.parametrize("report_type", ["dataSources", "segments", "measures", "jobs"])
def test_status_reports(api, report_type):
    report = _ok(api("GET", f"{BASE}/reports/{report_type}"))
    assert (report["instanceId"], report["reportType"]) == (SAMPLE_INSTANCE_ID, report_type)
    summary = report["summary"]
    assert summary["total"] == len(report["items"]) > 0
    assert summary["total"] == sum(summary[o] for o in ("succeeded", "failed", "cancelled", "running", "skipped",
                                                         "other"))
    if report_type in ("dataSources", "jobs"):
        assert summary["failed"] >= 1


def test_status_report_v2_gives_each_failure_its_reason(api, ci_sim):
    ci_sim.control.start_refresh("PoS", outcome="fail", message="PoS credentials expired.")
    report = _ok(api("GET", f"{BASE}/reports/dataSources/v2"))
    failed = {i["name"]: i for i in report["items"] if i["outcome"] == "failed"}
    [pos] = [i for i in failed.values() if i.get("errorMessage") == "PoS credentials expired."]
    assert pos["errorCode"] and f"{pos['name']} (PoS credentials expired.)" in report["text"]
    assert report["summary"]["failed"] == len(failed)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", report["generatedAt"])
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", i["updatedAt"]) for i in report["items"]
               if "updatedAt" in i)
    _error(api("GET", f"{BASE}/reports/everything/v2"), 400, "InvalidParameter", "reportType")


def test_partitions_v2_and_partition_data(api):
    v2 = _ok(api("GET", f"{BASE}/entities/Customer/partitions/v2"))
    kinds = {(p["kind"], p["format"]): p for p in v2["value"]}
    assert set(kinds) == {("full", "csv"), ("full", "parquet")} and v2["entityName"] == "Customer"
    source = _ok(api("GET", f"{BASE}/entities/eCommerce_eCommerceContacts/partitions/v2"))["value"]
    assert {p["kind"] for p in source} == {"full", "incrementalUpsert"}
    full = kinds[("full", "csv")]["name"]
    assert [p["name"] for p in _ok(api("GET", f"{BASE}/lookups/entities/Customer/partitions"))["value"]] == [full]
    page = _ok(api("GET", f"{BASE}/entities/Customer/partitions/{full}/data", params={"$top": "10"}))
    assert (page["entityName"], page["partitionName"], len(page["value"])) == ("Customer", full, 10)
    assert "$skip=10" in page["@odata.nextLink"]
    _error(api("GET", f"{BASE}/entities/Customer/partitions/{kinds[('full', 'parquet')]['name']}/data"),
           400, "PartitionNotReadable", "partitionName")
    _error(api("GET", f"{BASE}/entities/Customer/partitions/nope/data"), 404, "PartitionNotFound", "partitionName")


def test_data_source_inputs_take_id_or_unique_name(api):
    by_name = _ok(api("POST", f"{BASE}/refreshes", params={"scope": "dataSource", "dataSourceId": "Loyalty"}))
    assert by_name["operationType"] == "ingestion"
    _error(api("POST", f"{BASE}/refreshes", params={"scope": "dataSource", "dataSourceId": "NoSuchSource"}),
           404, "DataSourceNotFound", "dataSourceId")


def test_status_report_type_is_validated(api):
    _error(api("GET", f"{BASE}/reports/everything"), 400, "InvalidParameter", "reportType")


def test_start_refresh(api, ci_sim):
    loyalty = next(s for s in _ok(api("GET", f"{BASE}/datasources"))["value"] if s["name"] == "Loyalty")
    started = _ok(api("POST", f"{BASE}/refreshes",
                      params={"scope": "dataSource", "dataSourceId": loyalty["dataSourceId"]}))
    assert started["scope"] == "dataSource" and started["operationType"] == "ingestion"
    jobs = _ok(api("GET", f"{BASE}/reports/jobs"))["items"]
    assert started["jobId"] in [j["id"] for j in jobs]
    for scope, operation_type in (("full", "all"), ("segments", "segmentation"), ("measures", "measures")):
        job = _ok(api("POST", f"{BASE}/refreshes", params={"scope": scope, "forceRun": "false"}))
        assert (job["scope"], job["operationType"]) == (scope, operation_type) and job["jobStatus"]
    _error(api("POST", f"{BASE}/refreshes", params={"scope": "dataSource"}), 400, "MissingParameter", "dataSourceId")
    _error(api("POST", f"{BASE}/refreshes", params={"scope": "segments", "dataSourceId": loyalty["dataSourceId"]}),
           400, "InvalidParameter", "dataSourceId")
    _error(api("POST", f"{BASE}/refreshes", params={"scope": "dataSource", "dataSourceId": UNKNOWN_INSTANCE}),
           404, "DataSourceNotFound", "dataSourceId")


# Profiles
def test_search_customer_profiles(api):
    customer = _customers(api, **{"$top": "1"})["value"][0]
    found = _ok(api("GET", f"{BASE}/profiles/search", params={"searchTerm": customer["Email"]}))["value"]
    assert customer["CustomerId"] in [r["CustomerId"] for r in found]
    _error(api("GET", f"{BASE}/profiles/search"), 400, "MissingParameter", "searchTerm")


def test_customer_by_alternate_key(api):
    found = _ok(api("GET", f"{BASE}/profiles/by-alternate-key",
                    params={"dataSourceName": "eCommerce", "sourceEntityName": "eCommerceContacts", "key": "EC00001"}))
    assert found["customer"]["CustomerId"] == found["customerId"] and found["keyRing"]
    _error(api("GET", f"{BASE}/profiles/by-alternate-key",
               params={"dataSourceName": "eCommerce", "sourceEntityName": "eCommerceContacts", "key": "nope"}),
           404, "NotFound")


# Instances, keys, CI failures
def test_unknown_instance_and_malformed_ids(api):
    _error(api("GET", f"/api/instances/{UNKNOWN_INSTANCE}/segments"), 404, "NotFound")
    _error(api("GET", "/api/instances/not-a-guid/segments"), 400, "InvalidParameter", "instanceId")


def test_function_key_is_required(host, ci_sim):
    assert host.request("GET", "/api/instances", key=None).status_code == 401
    assert host.request("GET", "/api/instances", key="wrong").status_code == 401


def test_ci_throttling_is_a_429_with_retry_after(api, ci_sim):
    ci_sim.control.add_fault("/manage/segments$", 429, retry_after=120, times=5)
    response = api("GET", f"{BASE}/segments")
    _error(response, 429, "Throttled")
    assert response.headers["Retry-After"] == "120"


@pytest.mark.parametrize("fault", [{"status": 500}, {"malformed_json": True}])
def test_ci_failures_are_502s(api, ci_sim, fault):
    ci_sim.control.add_fault("/manage/measures$", times=5, **fault)
    _error(api("GET", f"{BASE}/measures"), 502, "UpstreamError")
