"""Entra mode (``AUTH_MODE=entra``) through the local host and the CI simulator: callers are people
with Entra ID access tokens, actions call CI on their behalf, CI's roles decide.

The simulator's authority signs the users' tokens (its JWKS is what the backend checks) and
exchanges them on behalf of the user; its CI API enforces each user's role on the sample instance
(maker: Contributor, viewer: Viewer, admin: Admin and the backend's admin app role, noaccess: none).
"""
from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from ciconnector.auth.tokens import JWKS_MIN_REFRESH_SECONDS
from dev.cisim import SAMPLE_INSTANCE_ID

BASE = f"/api/instances/{SAMPLE_INSTANCE_ID}"
UNKNOWN_INSTANCE = "0f0e0d0c-0b0a-4908-8706-050403020100"


@pytest.fixture(scope="module")
def entra_host(funchost_factory, app_env):
    host = funchost_factory.start(env={**app_env, "AUTH_MODE": "entra"})
    yield host
    host.stop()


@pytest.fixture
def as_user(entra_host, ci_sim):
    """``call(user, method, path, **kwargs)``: a request with ``user``'s fresh access token and no key."""
    def call(user: str, method: str, path: str, **kwargs):
        headers = {"Authorization": f"Bearer {ci_sim.control.user_token(user)}", **kwargs.pop("headers", {})}
        return entra_host.request(method, path, key=None, headers=headers, **kwargs)
    return call


def _status(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    if code:
        assert body["code"] == code, body
    return body


def _actions(as_user, user: str) -> dict[str, int]:
    """The status of each action for ``user``."""
    row = {"CustomerId": f"{user}-{uuid.uuid4().hex[:8]}", "FullName": "Test Person"}
    existing = as_user("admin", "GET", f"{BASE}/data/Customer", params={"$top": "1"}).json()["value"][0]
    return {
        "list instances": as_user(user, "GET", "/api/instances").status_code,
        "get items": as_user(user, "GET", f"{BASE}/data/Customer", params={"$top": "1"}).status_code,
        "list segments": as_user(user, "GET", f"{BASE}/segments").status_code,
        "create item": as_user(user, "POST", f"{BASE}/data/Customer", json=row).status_code,
        "update item": as_user(user, "PATCH", f"{BASE}/data/Customer/{existing['CustomerId']}",
                               json={"City": "Oslo"}).status_code,
        "start refresh": as_user(user, "POST", f"{BASE}/refreshes", params={"scope": "full"}).status_code,
    }


@pytest.mark.parametrize("user, expected", [
    ("maker", {"list instances": 200, "get items": 200, "list segments": 200, "create item": 201,
               "update item": 200, "start refresh": 200}),
    ("admin", {"list instances": 200, "get items": 200, "list segments": 200, "create item": 201,
               "update item": 200, "start refresh": 200}),
    ("viewer", {"list instances": 200, "get items": 200, "list segments": 200, "create item": 403,
                "update item": 403, "start refresh": 403}),
    ("noaccess", {"list instances": 200, "get items": 404, "list segments": 404, "create item": 404,
                  "update item": 404, "start refresh": 404}),
])
def test_each_role_gets_what_ci_allows(as_user, user, expected):
    assert _actions(as_user, user) == expected


def test_viewer_refusal_is_a_403_json(as_user):
    body = _status(as_user("viewer", "POST", f"{BASE}/data/Customer", json={"CustomerId": "v-1"}), 403,
                   "CustomerInsightsRoleForbids")
    assert "Viewer" not in body["message"] or "role" in body["message"]


def test_no_access_looks_like_an_unknown_instance(as_user):
    hidden = as_user("noaccess", "GET", f"{BASE}/segments")
    unknown = as_user("maker", "GET", f"/api/instances/{UNKNOWN_INSTANCE}/segments")
    assert (hidden.status_code, hidden.json()) == (unknown.status_code, unknown.json()) == (
        404, {"code": "NotFound", "message": "Customer Insights found no such resource."})
    assert _status(as_user("noaccess", "GET", "/api/instances"), 200)["value"] == []
    listed = _status(as_user("viewer", "GET", "/api/instances"), 200)["value"]
    assert [i["instanceId"] for i in listed] == [SAMPLE_INSTANCE_ID]


def test_instance_allowlist_still_applies(funchost_factory, app_env, ci_sim):
    host = funchost_factory.start(env={**app_env, "AUTH_MODE": "entra", "CI_INSTANCE_IDS": UNKNOWN_INSTANCE})
    try:
        token = ci_sim.control.user_token("admin")
        response = host.request("GET", f"{BASE}/segments", key=None, headers={"Authorization": f"Bearer {token}"})
        _status(response, 404, "InstanceNotFound")
    finally:
        host.stop()


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _bad_tokens(ci_sim) -> dict[str, str]:
    control = ci_sim.control
    good = control.user_token("admin")
    header, claims = jwt.get_unverified_header(good), jwt.decode(good, options={"verify_signature": False})
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    head, body, signature = good.split(".")
    tampered = json.loads(base64.urlsafe_b64decode(body + "=="))
    tampered["oid"] = str(uuid.uuid4())
    return {
        "forged": jwt.encode(claims, forger, algorithm="RS256", headers={"kid": header["kid"]}),
        "unsigned": f"{_b64({'typ': 'JWT', 'alg': 'none', 'kid': header['kid']})}.{_b64(claims)}.",
        "hs256 with the public key as secret": jwt.encode(claims, "x" * 32, algorithm="HS256",
                                                          headers={"kid": header["kid"]}),
        "tampered": f"{head}.{_b64(tampered)}.{signature}",
        "expired": control.user_token("admin", lifetime_seconds=-120),
        "wrong audience": control.user_token("admin", audience="api://some-other-app"),
        "wrong tenant": control.user_token("admin", tenant_id=str(uuid.uuid4())),
        "no user scope": control.user_token("admin", scope="other.scope"),
        "garbage": "not-a-jwt",
    }


def test_bad_tokens_are_401_json_and_never_reach_ci(entra_host, ci_sim):
    bad = _bad_tokens(ci_sim)
    ci_sim.control.reset_request_log()
    for name, token in bad.items():
        response = entra_host.request("GET", f"{BASE}/segments", key=None, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (name, response.text)
        assert set(response.json()) == {"code", "message"} and response.headers["WWW-Authenticate"].startswith("Bearer")
    no_token = entra_host.request("GET", f"{BASE}/segments", key=None)
    with_key_only = entra_host.request("GET", f"{BASE}/segments", key="master")
    assert _status(no_token, 401, "MissingToken") == _status(with_key_only, 401, "MissingToken")
    log = ci_sim.control.request_log()
    assert log["total"] == 0 and ci_sim.control.token_grants().get("on_behalf_of", 0) == 0


def test_refusals_name_the_check(entra_host, ci_sim):
    control = ci_sim.control

    def code(token: str) -> str:
        response = entra_host.request("GET", "/api/instances", key=None, headers={"Authorization": f"Bearer {token}"})
        return response.json()["code"]
    assert code(control.user_token("maker", lifetime_seconds=-120)) == "TokenExpired"
    assert code(control.user_token("maker", audience="api://some-other-app")) == "InvalidAudience"
    assert code(control.user_token("maker", tenant_id=str(uuid.uuid4()))) == "TenantNotAllowed"


def test_rotated_signing_keys_are_picked_up(entra_host, ci_sim):
    before = ci_sim.control.user_token("viewer")
    ci_sim.control.rotate_signing_keys()
    time.sleep(JWKS_MIN_REFRESH_SECONDS)  # the app may have fetched the keys just now
    after = ci_sim.control.user_token("viewer")
    assert jwt.get_unverified_header(before)["kid"] != jwt.get_unverified_header(after)["kid"]
    for token in (after, before):  # the new kid is fetched; the old key stays published
        response = entra_host.request("GET", "/api/instances", key=None, headers={"Authorization": f"Bearer {token}"})
        _status(response, 200)


def test_on_behalf_of_tokens_are_reused_per_user(entra_host, ci_sim):
    control = ci_sim.control
    maker = control.user_token("maker")
    time.sleep(1)  # a second token of the same user, as Power Automate sends after renewing
    maker_again = control.user_token("maker")
    assert maker != maker_again
    control.reset()  # zeroes the grant counters; earlier tests' cached tokens stay valid in the app
    for token in (maker, maker_again, maker):
        for path in ("/api/instances", f"{BASE}/segments", f"{BASE}/datasources"):
            _status(entra_host.request("GET", path, key=None, headers={"Authorization": f"Bearer {token}"}), 200)
    assert control.token_grants().get("on_behalf_of", 0) <= 1, "one exchange for the maker at most"
    control.expire_tokens()  # CI refuses the cached token: the app exchanges again, once
    _status(entra_host.request("GET", f"{BASE}/segments", key=None, headers={"Authorization": f"Bearer {maker}"}), 200)
    _status(entra_host.request("GET", f"{BASE}/segments", key=None, headers={"Authorization": f"Bearer {maker}"}), 200)
    grants = control.token_grants()["on_behalf_of"]
    assert 1 <= grants <= 2


def test_admin_endpoints_need_the_admin_app_role(as_user):
    path = f"{BASE}/subscriptions"
    _status(as_user("maker", "GET", path), 403, "AdminRoleRequired")
    _status(as_user("viewer", "GET", f"{BASE}/deadletters"), 403, "AdminRoleRequired")
    assert "value" in _status(as_user("admin", "GET", path), 200)


def test_subscribing_checks_the_instance_on_the_users_behalf(as_user, receiver):
    body = {"callbackUrl": receiver.callback_url("entra-flow")}
    path = f"{BASE}/triggers/unificationRefreshCompleted/subscriptions"
    hidden = as_user("noaccess", "POST", path, json=body)
    unknown = as_user("maker", "POST", f"/api/instances/{UNKNOWN_INSTANCE}/triggers/unificationRefreshCompleted/"
                                       "subscriptions", json=body)
    same = unknown.json() | {"message": unknown.json()["message"].replace(UNKNOWN_INSTANCE, SAMPLE_INSTANCE_ID)}
    assert (hidden.status_code, hidden.json()) == (unknown.status_code, same) and hidden.status_code == 400
    created = _status(as_user("viewer", "POST", path, json=body), 201)
    assert created["subscriptionId"]


def test_served_definition_and_health_stay_anonymous_and_match_the_mode(entra_host, funchost):
    entra = entra_host.request("GET", "/api/connector/apiDefinition.swagger.json", key=None)
    keyed = funchost.request("GET", "/api/connector/apiDefinition.swagger.json", key=None)
    assert _status(entra, 200)["security"] == [{"oauth2_auth": []}]
    assert _status(keyed, 200)["security"] == [{"api_key": []}]
    assert entra_host.request("GET", "/api/health", key=None).status_code in (200, 503)


# --- owned subscriptions ----------------------------------------------------------------------------
SUBSCRIBE = f"{BASE}/triggers/unificationRefreshCompleted/subscriptions"


@pytest.fixture
def second_maker(ci_sim) -> str:
    """A second Contributor on the sample instance, added through the simulator's control API."""
    ci_sim.control.add_user("maker2", "Mark Maker")
    ci_sim.control.set_user_role("maker2", "Contributor")
    return "maker2"


def _subscribe(as_user, user: str, receiver) -> dict:
    body = {"callbackUrl": receiver.callback_url(f"owned-{uuid.uuid4().hex[:8]}")}
    return _status(as_user(user, "POST", SUBSCRIBE, json=body), 201)


def _listed(as_user) -> dict[str, dict]:
    """The instance's subscriptions as an admin lists them, by id."""
    return {s["subscriptionId"]: s for s in _status(as_user("admin", "GET", f"{BASE}/subscriptions"), 200)["value"]}


def test_subscriptions_record_their_owner(as_user, ci_sim, receiver):
    created = _subscribe(as_user, "maker", receiver)
    maker = next(u for u in ci_sim.control.users() if u["key"] == "maker")
    tenant = jwt.decode(ci_sim.control.user_token("maker"), options={"verify_signature": False})["tid"]
    owner = {"tenantId": tenant, "objectId": maker["object_id"], "name": "Megan Maker"}
    assert created["owner"] == owner
    assert _listed(as_user)[created["subscriptionId"]]["owner"] == owner
    overview = _status(as_user("admin", "GET", "/api/console/overview"), 200)
    shown = [s for i in overview["instances"] for s in i["subscriptions"]
             if s["subscriptionId"] == created["subscriptionId"]]
    assert [s["owner"] for s in shown] == [owner]
    view = _status(as_user("admin", "GET", "/api/console/view"), 200)["html"]
    assert f'title="{tenant}/{maker["object_id"]}">Megan Maker<' in view


def test_only_the_owner_or_an_admin_unsubscribes(as_user, receiver, second_maker):
    mine = _subscribe(as_user, "maker", receiver)["subscriptionId"]
    path = f"{BASE}/subscriptions/{mine}"
    unknown = as_user(second_maker, "DELETE", f"{BASE}/subscriptions/{uuid.uuid4().hex}")
    foreign = as_user(second_maker, "DELETE", path)
    assert (foreign.status_code, foreign.json()) == (unknown.status_code, unknown.json()) == (
        200, {"status": "unsubscribed"})
    assert foreign.headers["Content-Type"] == unknown.headers["Content-Type"]
    _status(as_user("viewer", "DELETE", path), 200)
    assert mine in _listed(as_user), "nobody but the owner or an admin deletes it"
    _status(as_user(second_maker, "GET", f"{BASE}/subscriptions"), 403, "AdminRoleRequired")
    _status(as_user(second_maker, "POST", f"{path}/test"), 403, "AdminRoleRequired")
    _status(as_user("maker", "POST", f"{path}/test"), 403, "AdminRoleRequired")
    _status(as_user("maker", "DELETE", path), 200)
    assert mine not in _listed(as_user)
    _status(as_user("maker", "DELETE", path), 200)  # still idempotent
    theirs = _subscribe(as_user, second_maker, receiver)["subscriptionId"]
    _status(as_user("admin", "DELETE", f"{BASE}/subscriptions/{theirs}"), 200)
    assert theirs not in _listed(as_user)


def test_console_needs_the_admin_app_role(as_user, entra_host):
    for method, path in [("GET", "/api/console/overview"), ("GET", "/api/console/view"),
                         ("POST", f"/api/console/instances/{SAMPLE_INSTANCE_ID}/deadletters/replay"),
                         ("POST", f"/api/console/instances/{SAMPLE_INSTANCE_ID}/subscriptions/"
                                  f"{uuid.uuid4().hex}/enable")]:
        _status(as_user("maker", method, path), 403, "AdminRoleRequired")
        _status(entra_host.request(method, path, key="master"), 401, "MissingToken")
    assert "instances" in _status(as_user("admin", "GET", "/api/console/overview"), 200)
    assert entra_host.request("GET", "/api/console", key=None).status_code == 200
