"""Client authentication: which method a request used, and private_key_jwt's assertion."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from mfa_flow.oidc.assertions import JWT_BEARER, checked_assertion, presented
from mfa_flow.oidc.clients import Client
from mfa_flow.oidc.errors import OAuthError

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
AT = int(NOW.timestamp())
KEY = ECKey.generate_key("P-256")
CLIENT = Client("cl_1", "App", "asserting", [], "private_key_jwt", "RS256", {"keys": [KEY.as_dict(private=False)]},
                NOW, NOW)
ISSUER = "https://id.example"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_basic_credentials_are_form_decoded_halves():
    credentials = presented(basic("cl%3A1", "s+p%25"), {})
    assert (credentials.method, credentials.client_id, credentials.secret) == ("client_secret_basic", "cl:1", "s p%")


@pytest.mark.parametrize("authorization, form, error", [
    (basic("cl_1", "s"), {"client_secret": "s"}, "invalid_request"),
    (None, {}, "invalid_client"),
    ("Bearer x", {}, "invalid_client"),
    ("Basic !!!", {}, "invalid_client"),
    (None, {"client_secret": "s"}, "invalid_client"),
    (None, {"client_assertion": "a.b.c", "client_assertion_type": "other"}, "invalid_client"),
])
def test_no_or_two_authentications_are_refused(authorization, form, error):
    with pytest.raises(OAuthError) as refused:
        presented(authorization, form)
    assert refused.value.error == error


def assertion(**claims) -> str:
    body = {"iss": "cl_1", "sub": "cl_1", "aud": ISSUER, "jti": "j1", "exp": AT + 60, "iat": AT, **claims}
    return jwt.encode({"alg": "ES256"}, {k: v for k, v in body.items() if v is not None}, KEY)


def test_a_good_assertion_gives_its_jti_and_expiry():
    jti, expires = checked_assertion(CLIENT, assertion(aud=[ISSUER + "/oidc/token"]), (ISSUER, ISSUER + "/oidc/token"),
                                     NOW)
    assert jti == "j1" and expires.timestamp() == AT + 60


@pytest.mark.parametrize("claims, why", [
    ({"aud": "https://elsewhere.example"}, "aud"),
    ({"sub": "cl_2"}, "iss and sub"),
    ({"exp": AT - 120}, "expired"),
    ({"exp": AT + 7200}, "within 3600 seconds"),
    ({"jti": None}, "jti"),
    ({"nbf": AT + 600}, "not valid yet"),
])
def test_a_bad_assertion_is_refused(claims, why):
    with pytest.raises(OAuthError) as refused:
        checked_assertion(CLIENT, assertion(**claims), (ISSUER,), NOW)
    assert refused.value.error == "invalid_client" and why in refused.value.description


def test_an_assertion_signed_by_another_key_is_refused():
    other = jwt.encode({"alg": "ES256"}, {"iss": "cl_1", "sub": "cl_1", "aud": ISSUER, "jti": "j", "exp": AT + 60},
                       ECKey.generate_key("P-256"))
    with pytest.raises(OAuthError, match="does not verify"):
        checked_assertion(CLIENT, other, (ISSUER,), NOW)


def test_the_assertion_type_is_the_jwt_bearer_urn():
    assert presented(None, {"client_assertion": assertion(), "client_assertion_type": JWT_BEARER}).client_id == "cl_1"
