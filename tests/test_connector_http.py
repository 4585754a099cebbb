"""GET /api/connector/apiDefinition.swagger.json: anonymous, with the caller's host filled in."""
from __future__ import annotations

from openapi_spec_validator import validate

from ciconnector.connector import build_definition, check


def test_definition_is_served_anonymously_with_the_request_host(app_host):
    response = app_host.request("GET", "/api/connector/apiDefinition.swagger.json", key=None)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    served = response.json()
    host = app_host.base_url.removeprefix("http://")
    assert served == build_definition(host, scheme="http")
    validate(served)
    assert check(served) == []


def test_actions_still_need_the_key(app_host):
    assert app_host.request("GET", "/api/instances", key=None).status_code == 401
