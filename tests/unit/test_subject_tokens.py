"""A result token presented to start an account flow (``subject_token``): what it must be."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mfa_flow.tokens import (
    ED25519,
    P256,
    TokenPolicy,
    TokenRefused,
    check_subject_token,
    new_signing_key,
    proves_mfa,
    result_claims,
    sign_checkpoint,
    sign_result,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
POLICY = TokenPolicy(issuer="mfa-flow", audience="mfa-flow", lifetime=300)
KEY = new_signing_key(P256)  # the result token's default algorithm is ES256
CHECKPOINT_KEY = new_signing_key(ED25519)
JWKS = [KEY.public_jwk, CHECKPOINT_KEY.public_jwk]


def token(signed_at: datetime = NOW, amr: list[str] | None = None, policy: TokenPolicy = POLICY, key=KEY,
          **claims) -> str:
    body = {**result_claims(policy, "flow-1", "user-1", amr or ["pwd"], signed_at), **claims}
    return sign_result(policy, key, body)


def check(value: str, now: datetime = NOW, max_age: int = 300) -> dict:
    return check_subject_token(value, JWKS, POLICY, now, max_age)


def test_a_fresh_result_token_gives_its_claims():
    claims = check(token(), NOW + timedelta(seconds=299))
    assert (claims["sub"], claims["sid"], claims["amr"]) == ("user-1", "flow-1", ["pwd"])


LONG_LIVED = int((NOW + timedelta(hours=1)).timestamp())  # a token that outlives the maximum age


@pytest.mark.parametrize("value, age, detail", [
    (token(exp=LONG_LIVED), 301, "the sign-in behind the subject token is older than 300 seconds"),
    (token(), 300, "the subject token has expired"),
])
def test_an_old_or_expired_token_is_refused_as_too_old(value, age, detail):
    with pytest.raises(TokenRefused, match=detail) as refused:
        check(value, NOW + timedelta(seconds=age))
    assert refused.value.too_old


def test_the_maximum_age_is_the_services_setting_not_the_tokens_lifetime():
    with pytest.raises(TokenRefused, match="older than 60 seconds"):
        check(token(), NOW + timedelta(seconds=61), max_age=60)


@pytest.mark.parametrize("forged, detail", [
    (token(key=new_signing_key(P256)), "not a result token signed by this service"),
    (token()[:-3] + ("AAA" if not token().endswith("AAA") else "BBB"), "not a result token signed by this service"),
    ("not.a.token", "not a result token signed by this service"),
    (token(policy=TokenPolicy("someone-else", "mfa-flow", 300)), "another issuer or audience"),
    (token(aud="another-app"), "another issuer or audience"),
    (token(sub=""), "lacks sub, iat or exp"),
    (token(iat=True), "lacks sub, iat or exp"),
    (token(exp="tomorrow"), "lacks sub, iat or exp"),
    (sign_checkpoint(CHECKPOINT_KEY, "Ed25519", {"cursor": "1-1", "rows": 1}), "not a result token signed by this service"),
])
def test_anything_but_this_services_result_token_is_refused(forged, detail):
    with pytest.raises(TokenRefused, match=detail) as refused:
        check(forged)
    assert not refused.value.too_old


@pytest.mark.parametrize("claims, proven", [
    ({"amr": ["pwd", "otp", "mfa"], "acr": "urn:mfa-flow:acr:mfa"}, True),
    ({"amr": ["otp", "hwk", "mfa"], "acr": "urn:mfa-flow:acr:mfa"}, True),
    ({"amr": ["pwd"], "acr": "urn:mfa-flow:acr:1fa"}, False),
    ({"amr": ["pwd"], "acr": "urn:mfa-flow:acr:trusted-device", "mfa_by": "trusted_device"}, False),
    ({"amr": ["pwd", "mfa"], "acr": "urn:mfa-flow:acr:mfa", "mfa_by": "trusted_device"}, False),
    ({"amr": ["otp"], "acr": "urn:mfa-flow:acr:mfa"}, True),  # a backend's first factor, then a code
    ({"amr": ["pwd", "otp", "mfa"]}, False),
])
def test_only_a_factor_proven_in_the_sign_in_itself_counts_as_mfa(claims, proven):
    assert proves_mfa(claims) is proven
