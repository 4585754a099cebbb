"""Every bad subscribe input is a 400 with ``{code, message, field}`` and stores nothing."""
from __future__ import annotations

import json as json_module
from typing import Any

import pytest

from ciconnector.settings import Settings
from ciconnector.storage.tables import TableStore
from ciconnector.storage.watch import WatchStore
from dev.cisim import SAMPLE_INSTANCE_ID as INSTANCE

pytestmark = pytest.mark.usefixtures("clean_app_state")

UNKNOWN_INSTANCE = "00000000-0000-4000-8000-00000000abcd"


def list_subscriptions(host: Any, instance: str = INSTANCE) -> list[dict]:
    response = host.request("GET", f"/api/instances/{instance}/subscriptions", key="master")
    assert response.status_code == 200
    return response.json()["value"]


def nothing_stored(host: Any, app_env: dict[str, str], instance: str = INSTANCE) -> bool:
    """No subscription and no watched instance: a refused subscribe leaves no trace."""
    watched = WatchStore(TableStore(Settings.from_environ(app_env).require_storage())).list_watched()
    return list_subscriptions(host, instance) == [] and watched == []


def post(host: Any, kind: str, *, json: Any = None, data: bytes | None = None, instance: str = INSTANCE,
         content_type: str = "application/json"):
    kwargs: dict[str, Any] = {"headers": {"Content-Type": content_type}}
    kwargs["data"] = json_module.dumps(json).encode() if json is not None else data
    return host.request("POST", f"/api/instances/{instance}/triggers/{kind}/subscriptions", **kwargs)


def callback(receiver: Any) -> str:
    return receiver.callback_url("bad-input")


CASES = [
    # (id, kind, body builder, expected code, expected field)
    ("unknown kind", "refreshHappened", lambda r: {"callbackUrl": callback(r)}, "UnknownTriggerKind", "triggerKind"),
    ("missing segment", "segmentThresholdCrossed", lambda r: {"callbackUrl": callback(r), "threshold": 3},
     "MissingParameter", "segmentName"),
    ("missing threshold", "segmentThresholdCrossed",
     lambda r: {"callbackUrl": callback(r), "segmentName": "ChurnRisk"}, "MissingParameter", "threshold"),
    ("threshold not a number", "measureThresholdCrossed",
     lambda r: {"callbackUrl": callback(r), "measureName": "TotalRevenue", "threshold": "lots"},
     "InvalidParameterType", "threshold"),
    ("negative segment threshold", "segmentThresholdCrossed",
     lambda r: {"callbackUrl": callback(r), "segmentName": "ChurnRisk", "threshold": -1},
     "ParameterOutOfRange", "threshold"),
    ("fractional segment threshold", "segmentThresholdCrossed",
     lambda r: {"callbackUrl": callback(r), "segmentName": "ChurnRisk", "threshold": 2.5}, None, "threshold"),
    ("bad direction", "segmentThresholdCrossed",
     lambda r: {"callbackUrl": callback(r), "segmentName": "ChurnRisk", "threshold": 1, "direction": "sideways"},
     "InvalidParameter", "direction"),
    ("unknown parameter", "dataSourceRefreshFailed", lambda r: {"callbackUrl": callback(r), "colour": "red"},
     "UnknownParameter", "colour"),
    ("malformed data source id", "dataSourceRefreshFailed",
     lambda r: {"callbackUrl": callback(r), "dataSourceId": "not-a-guid"}, None, "dataSourceId"),
    ("unknown data source", "dataSourceRefreshFailed",
     lambda r: {"callbackUrl": callback(r), "dataSourceId": "00000000-0000-4000-8000-000000000001"},
     "ResourceNotFound", "dataSourceId"),
    ("unknown segment", "segmentThresholdCrossed",
     lambda r: {"callbackUrl": callback(r), "segmentName": "NoSuchSegment", "threshold": 1},
     "ResourceNotFound", "segmentName"),
    ("unknown measure", "measureThresholdCrossed",
     lambda r: {"callbackUrl": callback(r), "measureName": "NoSuchMeasure", "threshold": 1},
     "ResourceNotFound", "measureName"),
    ("dimensioned measure", "measureThresholdCrossed",
     lambda r: {"callbackUrl": callback(r), "measureName": "RevenueByCountry", "threshold": 1},
     "MeasureNotScalar", "measureName"),
    ("missing callback", "dataSourceRefreshFailed", lambda r: {}, "MissingCallbackUrl", "callbackUrl"),
    ("http callback", "dataSourceRefreshFailed",
     lambda r: {"callbackUrl": callback(r).replace("https://", "http://")}, "CallbackUrlNotHttps", "callbackUrl"),
    ("callback too long", "dataSourceRefreshFailed",
     lambda r: {"callbackUrl": callback(r) + "&pad=" + "x" * 2100}, "CallbackUrlTooLong", "callbackUrl"),
    ("callback with credentials", "dataSourceRefreshFailed",
     lambda r: {"callbackUrl": callback(r).replace("https://", "https://user:pw@")}, "CallbackUrlHasCredentials",
     "callbackUrl"),
    ("loopback callback", "dataSourceRefreshFailed",
     lambda r: {"callbackUrl": "https://127.0.0.1:9/run?sig=x"}, "CallbackHostNotAllowed", "callbackUrl"),
    ("private callback", "dataSourceRefreshFailed",
     lambda r: {"callbackUrl": "https://10.1.2.3/run?sig=x"}, "CallbackHostNotAllowed", "callbackUrl"),
    ("link-local callback", "dataSourceRefreshFailed",
     lambda r: {"callbackUrl": "https://169.254.169.254/latest/meta-data?sig=x"}, "CallbackHostNotAllowed",
     "callbackUrl"),
    ("mapped loopback callback", "dataSourceRefreshFailed",
     lambda r: {"callbackUrl": "https://[::ffff:127.0.0.1]/run?sig=x"}, "CallbackHostNotAllowed", "callbackUrl"),
    ("localhost callback", "dataSourceRefreshFailed",
     lambda r: {"callbackUrl": "https://localhost/run?sig=x"}, "CallbackHostNotAllowed", "callbackUrl"),
    ("body not an object", "dataSourceRefreshFailed", lambda r: [callback(r)], "InvalidJson", "body"),
]


@pytest.mark.parametrize("kind, build, code, field", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_subscribe_input_is_400_and_stores_nothing(app_host, app_env, receiver, kind, build, code, field):
    response = post(app_host, kind, json=build(receiver))
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"code", "message", "field"} and body["message"]
    assert body["field"] == field
    if code:
        assert body["code"] == code
    assert "sig=" not in body["message"]
    assert nothing_stored(app_host, app_env)


def test_malformed_json_is_400(app_host, app_env):
    response = post(app_host, "dataSourceRefreshFailed", data=b'{"callbackUrl": ')
    assert response.status_code == 400 and response.json()["code"] == "InvalidJson"
    assert nothing_stored(app_host, app_env)


def test_wrong_content_type_is_400(app_host, app_env, receiver):
    response = post(app_host, "dataSourceRefreshFailed", data=callback(receiver).encode(), content_type="text/plain")
    assert response.status_code == 400 and response.json()["code"] == "UnsupportedContentType"
    assert nothing_stored(app_host, app_env)


def test_unknown_instance_is_400(app_host, app_env, receiver):
    response = post(app_host, "dataSourceRefreshFailed", json={"callbackUrl": callback(receiver)},
                    instance=UNKNOWN_INSTANCE)
    assert response.status_code == 400
    assert response.json()["code"] == "ResourceNotFound" and response.json()["field"] == "instanceId"
    assert nothing_stored(app_host, app_env, UNKNOWN_INSTANCE)


def test_ci_unavailable_at_subscribe_is_502_and_stores_nothing(app_host, app_env, receiver, ci_sim):
    ci_sim.control.add_fault(r"/manage/segments$", 500, times=5)
    response = post(app_host, "segmentThresholdCrossed",
                    json={"callbackUrl": callback(receiver), "segmentName": "ChurnRisk", "threshold": 1})
    assert response.status_code == 502 and response.json()["code"] == "UpstreamError"
    assert nothing_stored(app_host, app_env)
