"""CI simulator: OData queries (paging, $filter subset, $select/$orderby/$search/$expand) and row writes."""
from __future__ import annotations

from typing import Any

import pytest

from dev.cisim import SAMPLE_INSTANCE_ID, ApiClient, CISimulator

D = f"/instances/{SAMPLE_INSTANCE_ID}/data"


def _get(api: ApiClient, path: str, **params: str) -> dict[str, Any]:
    response = api.get(D + path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _count(api: ApiClient, entity: str, odata_filter: str) -> int:
    return _get(api, f"/{entity}", **{"$filter": odata_filter, "$top": "0"})["@odata.count"]


def test_default_page_is_capped_at_100(ci_api: ApiClient) -> None:
    body = _get(ci_api, "/Customer")
    assert body["@odata.count"] == 250 and len(body["value"]) == 100
    assert body["@odata.context"].endswith(f"/v1/instances/{SAMPLE_INSTANCE_ID}/data/$metadata#Customer")
    assert "@odata.nextLink" not in body
    assert len(_get(ci_api, "/Customer", **{"$top": "500"})["value"]) == 100


def test_paging_with_top_and_skip(ci_api: ApiClient) -> None:
    seen, skip = [], 0
    while True:
        page = _get(ci_api, "/Customer", **{"$top": "40", "$skip": str(skip)})["value"]
        seen += [row["CustomerId"] for row in page]
        skip += len(page)
        if len(page) < 40:
            break
    assert len(seen) == len(set(seen)) == 250
    assert len(_get(ci_api, "/Customer", **{"$skip": "240", "$top": "50"})["value"]) == 10
    assert _get(ci_api, "/Customer", **{"$skip": "999"})["value"] == []


def test_next_link_paging(ci_sim: CISimulator, ci_api: ApiClient) -> None:
    ci_sim.control.set_next_link(True)
    body = _get(ci_api, "/Customer", **{"$orderby": "Email asc"})
    rows, pages = list(body["value"]), 1
    while "@odata.nextLink" in body:
        response = ci_api.session.get(body["@odata.nextLink"], headers=ci_api.headers(), timeout=10)
        body, pages = response.json(), pages + 1
        rows += body["value"]
    assert pages == 3 and len({r["CustomerId"] for r in rows}) == 250
    assert [r["Email"] for r in rows] == sorted(r["Email"] for r in rows)
    first = _get(ci_api, "/Customer", **{"$top": "150"})
    assert len(first["value"]) == 100 and "%24top=50" in first["@odata.nextLink"].replace("$", "%24")
    second = ci_api.session.get(first["@odata.nextLink"], headers=ci_api.headers(), timeout=10).json()
    assert len(second["value"]) == 50 and "@odata.nextLink" not in second


@pytest.mark.parametrize("entity, odata_filter, expected", [
    ("Customer", "Country eq 'US'", lambda rows: sum(r["Country"] == "US" for r in rows)),
    ("Customer", "Country ne 'US' and City ne 'Paris'",
     lambda rows: sum(r["Country"] != "US" and r["City"] != "Paris" for r in rows)),
    ("Customer", "(Country eq 'DE' or Country eq 'FR') and FirstName ge 'M'",
     lambda rows: sum(r["Country"] in ("DE", "FR") and r["FirstName"] >= "M" for r in rows)),
    ("Customer", "Country in ('GB','NL')", lambda rows: sum(r["Country"] in ("GB", "NL") for r in rows)),
    ("Customer", "not (Country eq 'US')", lambda rows: sum(r["Country"] != "US" for r in rows)),
    ("Customer", "Email eq null", lambda rows: 0),
])
def test_filter_subset(ci_api: ApiClient, entity: str, odata_filter: str, expected: Any) -> None:
    rows = _get(ci_api, f"/{entity}", **{"$top": "100"})["value"] + \
        _get(ci_api, f"/{entity}", **{"$skip": "100", "$top": "100"})["value"] + \
        _get(ci_api, f"/{entity}", **{"$skip": "200", "$top": "100"})["value"]
    assert _count(ci_api, entity, odata_filter) == expected(rows) > -1


def test_filter_numbers_dates_and_segments(ci_api: ApiClient) -> None:
    high_value = ci_api.get(f"/instances/{SAMPLE_INSTANCE_ID}/manage/entities/HighValueCustomers/entitysize").json()
    assert _count(ci_api, "Customer_Measure", "CustomerLifetimeSpend gt 1000") == high_value["rowCount"]
    assert _count(ci_api, "Customer", "IsMemberOfSegment('HighValueCustomers')") == high_value["rowCount"]
    all_rows = _get(ci_api, "/UnifiedActivity", **{"$filter": "ActivityTime ge 2025-01-01T00:00:00Z",
                                                   "$orderby": "ActivityTime desc", "$top": "5"})
    assert all(r["ActivityTime"] >= "2025-01-01" for r in all_rows["value"])
    assert [r["ActivityTime"] for r in all_rows["value"]] == sorted((r["ActivityTime"] for r in all_rows["value"]),
                                                                    reverse=True)
    customer = _get(ci_api, "/Customer", **{"$top": "1"})["value"][0]["CustomerId"]
    activity = _get(ci_api, "/UnifiedActivity", **{"$filter": f"CustomerId eq '{customer}' and "
                                                              "ActivityTime gt 2017-01-01T00:00:00.000Z"})
    assert all(r["CustomerId"] == customer for r in activity["value"])


@pytest.mark.parametrize("entity, params, code", [
    ("Customer", {"$filter": "Country eq"}, "InvalidFilter"),
    ("Customer", {"$filter": "Country eq 'US' and"}, "InvalidFilter"),
    ("Customer", {"$filter": "Nope eq 'x'"}, "InvalidFilter"),
    ("Customer", {"$filter": "Country eq 5"}, "InvalidFilter"),
    ("Customer", {"$filter": "contains(Country,'U')"}, "InvalidFilter"),
    ("Customer", {"$filter": "IsMemberOfSegment('NoSuchSegment')"}, "InvalidFilter"),
    ("Customer", {"$filter": "Country eq 'US"}, "InvalidFilter"),
    ("Customer_Measure", {"$filter": "CustomerLifetimeSpend gt '1000'"}, "InvalidFilter"),
    ("eCommerce_eCommerceContacts", {"$filter": "Country eq 'US'"}, "FilterNotSupported"),
    ("Customer", {"$orderby": "Country sideways"}, "InvalidOrderBy"),
    ("Customer", {"$select": "CustomerId,Nope"}, "InvalidSelect"),
    ("Customer", {"$top": "ten"}, "InvalidPaging"),
    ("Customer", {"$skip": "-1"}, "InvalidPaging"),
    ("Customer", {"$expand": "UnifiedActivity", "$select": "CustomerId"}, "InvalidExpand"),
    ("Customer", {"$expand": "UnifiedActivity", "$search": "smith"}, "InvalidExpand"),
])
def test_bad_queries_are_odata_400s(ci_api: ApiClient, entity: str, params: dict[str, str], code: str) -> None:
    response = ci_api.get(f"{D}/{entity}", params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["errorCode"] == code and body["message"]


def test_unknown_entity_is_odata_404(ci_api: ApiClient) -> None:
    response = ci_api.get(f"{D}/NoSuchTable")
    assert response.status_code == 404 and response.json()["errorCode"] == "EntityNotFound"


def test_select_orderby_and_search(ci_api: ApiClient) -> None:
    body = _get(ci_api, "/Customer", **{"$select": "CustomerId,LastName", "$orderby": "LastName desc,CustomerId"})
    assert set(body["value"][0]) == {"CustomerId", "LastName"}
    assert body["@odata.context"].endswith("#Customer(CustomerId,LastName)")
    names = [r["LastName"] for r in body["value"]]
    assert names == sorted(names, reverse=True)
    found = _get(ci_api, "/Customer", **{"$search": '"WALKER"', "forceSearch": "true"})
    assert found["@odata.count"] > 0 and all("walker" in str(r).lower() for r in found["value"])
    source = _get(ci_api, "/eCommerce_eCommerceContacts", **{"$search": "walker"})
    assert source["@odata.count"] > 0


def test_expand_joins_on_customer_id(ci_api: ApiClient) -> None:
    body = _get(ci_api, "/Customer", **{"$expand": "UnifiedActivity,Customer_Measure", "$top": "3"})
    for row in body["value"]:
        assert all(a["CustomerId"] == row["CustomerId"] for a in row["UnifiedActivity"])
        assert len(row["Customer_Measure"]) == 1
        assert row["Customer_Measure"][0]["PurchaseCount"] == len(row["UnifiedActivity"])


def test_measure_and_segment_tables(ci_api: ApiClient) -> None:
    total = _get(ci_api, "/TotalRevenue")["value"]
    measure = ci_api.get(f"/instances/{SAMPLE_INSTANCE_ID}/manage/measures/TotalRevenue").json()
    assert total == [{"TotalRevenue": float(measure["output"]["values"]["TotalRevenue"])}]
    assert len(_get(ci_api, "/RevenueByCountry")["value"]) == 6
    assert _get(ci_api, "/ChurnRisk")["@odata.count"] > 0


def test_create_and_update_rows(ci_api: ApiClient) -> None:
    created = ci_api.post(f"{D}/Customer", json={"CustomerId": "new-1", "FullName": "Ada Lovelace",
                                                "Country": "GB"})
    assert created.status_code == 201
    body = created.json()
    assert body["statusCode"] == 201 and body["value"]["FullName"] == "Ada Lovelace"
    assert created.headers["Location"] == body["location"]
    assert _count(ci_api, "Customer", "CustomerId eq 'new-1'") == 1
    patched = ci_api.patch(f"{D}/Customer/new-1", data='{"City": "London"}',
                           headers={"Content-Type": "application/json-patch+json; charset=utf-8"})
    assert patched.status_code == 204 and patched.content == b""
    assert _get(ci_api, "/Customer", **{"$filter": "City eq 'London' and CustomerId eq 'new-1'"})["@odata.count"] == 1
    generated = ci_api.post(f"{D}/PoS_posPurchases", json={"LoyaltyId": "LY00001", "TotalAmount": 12.5})
    assert generated.status_code == 201 and generated.json()["value"]["PurchaseId"]


@pytest.mark.parametrize("method, path, kwargs, status, code", [
    ("POST", "/Customer", {"data": "{broken", "headers": {"Content-Type": "application/json"}}, 400, "invalidBody"),
    ("POST", "/Customer", {"json": ["not", "an", "object"]}, 400, "InvalidBody"),
    ("POST", "/Customer", {"json": {"Unknown": 1}}, 400, "InvalidBody"),
    ("POST", "/Customer_Measure", {"json": {"PurchaseCount": "three"}}, 400, "InvalidBody"),
    ("POST", "/Customer", {"data": "<x/>", "headers": {"Content-Type": "application/xml"}}, 400,
     "invocationUnsupportedMediaType"),
    ("POST", "/NoSuchTable", {"json": {}}, 404, "EntityNotFound"),
    ("PATCH", "/Customer/does-not-exist", {"json": {"City": "x"}}, 404, "EntityNotFound"),
    ("PATCH", "/Customer/new-2", {"json": {"CustomerId": "other"}}, 400, "InvalidBody"),
])
def test_write_errors(ci_api: ApiClient, method: str, path: str, kwargs: dict[str, Any], status: int,
                      code: str) -> None:
    assert ci_api.post(f"{D}/Customer", json={"CustomerId": "new-2"}).status_code == 201
    response = ci_api.request(method, D + path, **kwargs)
    assert response.status_code == status
    assert response.json()["errorCode"] == code


def test_duplicate_key_conflicts(ci_api: ApiClient) -> None:
    assert ci_api.post(f"{D}/Customer", json={"CustomerId": "dup"}).status_code == 201
    response = ci_api.post(f"{D}/Customer", json={"CustomerId": "dup"})
    assert response.status_code == 409 and response.json()["errorCode"] == "EntityAlreadyExists"
