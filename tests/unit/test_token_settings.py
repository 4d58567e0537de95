"""The token settings: a bad value stops the start with one line that names it."""

from __future__ import annotations

import pytest

from mfa_flow.settings import Settings


@pytest.mark.parametrize("name, value, said", [
    ("MFA_FLOW_TOKEN_ALG", "HS256", "MFA_FLOW_TOKEN_ALG must be one of ES256, RS256, EdDSA, Ed25519, not 'HS256'"),
    ("MFA_FLOW_OIDC_SECRET_OVERLAP", "-1", "MFA_FLOW_OIDC_SECRET_OVERLAP must be a whole number of seconds"),
    ("MFA_FLOW_OIDC_SECRET_OVERLAP", "a day", "MFA_FLOW_OIDC_SECRET_OVERLAP must be a whole number, not 'a day'"),
])
def test_a_bad_value_names_the_setting(monkeypatch, name, value, said):
    monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit, match=said):
        Settings.from_env()


def test_the_defaults_are_es256_and_a_day_of_overlap_and_the_issuer_is_the_origin(monkeypatch):
    monkeypatch.setenv("MFA_FLOW_ORIGIN", "https://id.example/, https://other.example")
    settings = Settings.from_env()
    assert (settings.token_alg, settings.oidc_secret_overlap) == ("ES256", 86400)
    assert settings.oidc_issuer == "https://id.example"
