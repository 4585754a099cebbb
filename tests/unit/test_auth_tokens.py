"""Access token validation without a network: a fake keys endpoint counts fetches."""
from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from ciconnector.auth import TokenValidator
from ciconnector.errors import Unauthenticated
from ciconnector.settings import AuthSettings

TENANT, CLIENT = "8f3b1c5e-2d7a-4e9f-a1b3-5c6d7e8f9a0b", "0c9d8e7f-6a5b-4c3d-9e2f-1a0b9c8d7e6f"
HOST = "https://login.example"
SETTINGS = AuthSettings(mode="entra", audiences=(CLIENT,), allowed_tenants=(TENANT,), authority_host=HOST)


class FakeKeys:
    """A tenant's JWKS endpoint behind ``session.get``."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {"k1": rsa.generate_private_key(public_exponent=65537, key_size=2048)}
        self.fetches: list[str] = []

    def get(self, url: str, timeout: float) -> "FakeKeys":
        self.fetches.append(url)
        return self

    def raise_for_status(self) -> None:
        pass

    def json(self) -> dict:
        return {"keys": [{**RSAAlgorithm.to_jwk(k.public_key(), as_dict=True), "kid": kid, "use": "sig"}
                         for kid, k in self.keys.items()]}

    def token(self, kid: str = "k1", **claims) -> str:
        now = int(time.time())
        body = {"aud": CLIENT, "iss": f"{HOST}/{TENANT}/v2.0", "tid": TENANT, "oid": "o-1", "scp": "user_impersonation",
                "iat": now, "nbf": now, "exp": now + 600, **claims}
        return jwt.encode(body, self.keys[kid], algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def endpoint() -> FakeKeys:
    return FakeKeys()


def test_valid_token_gives_the_principal_and_keys_are_cached(endpoint):
    validator = TokenValidator(SETTINGS, session=endpoint)  # type: ignore[arg-type]
    first = validator.validate(endpoint.token(name="Megan", roles=["Connector.Admin"]))
    validator.validate(endpoint.token())
    assert (first.key, first.name, first.roles) == (f"{TENANT}/o-1", "Megan", frozenset({"Connector.Admin"}))
    assert endpoint.fetches == [f"{HOST}/{TENANT}/discovery/v2.0/keys"]


def test_an_unknown_kid_refetches_once_then_is_remembered(endpoint, monkeypatch):
    monkeypatch.setattr("ciconnector.auth.tokens.JWKS_MIN_REFRESH_SECONDS", 0)
    validator = TokenValidator(SETTINGS, session=endpoint)  # type: ignore[arg-type]
    validator.validate(endpoint.token())
    endpoint.keys["k2"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert validator.validate(endpoint.token("k2")).object_id == "o-1"
    assert len(endpoint.fetches) == 2
    forged = jwt.encode({"tid": TENANT}, rsa.generate_private_key(public_exponent=65537, key_size=2048),
                        algorithm="RS256", headers={"kid": "nope"})
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            validator.validate(forged)
    assert len(endpoint.fetches) == 3, "an unknown kid is fetched for once"


@pytest.mark.parametrize("claims, code", [
    ({"exp": int(time.time()) - 61}, "TokenExpired"),
    ({"aud": "api://other"}, "InvalidAudience"),
    ({"iss": "https://evil.example/x/v2.0"}, "InvalidIssuer"),
    ({"tid": "another-tenant"}, "TenantNotAllowed"),
    ({"scp": "other"}, "InsufficientScope"),
    ({"scp": ""}, "UserTokenRequired"),
])
def test_each_check_refuses(endpoint, claims, code):
    with pytest.raises(Unauthenticated) as refused:
        TokenValidator(SETTINGS, session=endpoint).validate(endpoint.token(**claims))  # type: ignore[arg-type]
    assert refused.value.code == code and refused.value.status == 401


def test_small_clock_skew_is_tolerated(endpoint):
    token = endpoint.token(exp=int(time.time()) - 30)
    assert TokenValidator(SETTINGS, session=endpoint).validate(token)  # type: ignore[arg-type]
