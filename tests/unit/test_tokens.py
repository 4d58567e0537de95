"""The result token's claims: ``acr`` and ``mfa_by`` say how the second factor was met."""

from __future__ import annotations

from datetime import UTC, datetime

from mfa_flow.tokens import TokenPolicy, result_claims

POLICY = TokenPolicy("mfa-flow", "mfa-flow", 300)
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_a_flow_that_proved_two_factors_is_multi_factor():
    claims = result_claims(POLICY, "f1", "u1", ["pwd", "otp", "mfa"], NOW)
    assert claims["acr"] == "urn:mfa-flow:acr:mfa" and "mfa_by" not in claims


def test_a_trusted_device_says_so_and_lists_only_what_the_flow_proved():
    claims = result_claims(POLICY, "f1", "u1", ["pwd"], NOW, mfa_by="trusted_device")
    assert claims["acr"] == "urn:mfa-flow:acr:trusted-device"
    assert claims["mfa_by"] == "trusted_device" and claims["amr"] == ["pwd"]


def test_one_factor_alone_is_not_multi_factor():
    claims = result_claims(POLICY, "f1", "u1", ["pwd"], NOW)
    assert claims["acr"] != "urn:mfa-flow:acr:mfa" and "mfa_by" not in claims
