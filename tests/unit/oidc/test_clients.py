"""Client registrations and secrets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mfa_flow.crypto import token_digest
from mfa_flow.domain.errors import InvalidInput
from mfa_flow.oidc.clients import Client, checked_redirect_uri, checked_registration

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("uri", ["https://app.example/cb", "http://localhost:3000/cb", "http://127.0.0.1/cb",
                                 "http://[::1]:8000/cb", "https://app.example/cb?tenant=1"])
def test_https_anywhere_and_http_on_loopback_are_registrable(uri):
    assert checked_redirect_uri(uri, "redirect_uris[0]") == uri


@pytest.mark.parametrize("uri", ["http://app.example/cb", "https://app.example/cb#x", "app://cb", "/cb", "",
                                 "https://", "x" * 2001])
def test_other_redirect_uris_are_refused(uri):
    with pytest.raises(InvalidInput):
        checked_redirect_uri(uri, "redirect_uris[0]")


def test_a_registration_gets_the_defaults_every_library_accepts():
    fields = checked_registration({"name": " App ", "redirect_uris": ["https://a.example/cb"] * 2, "kind": "sign_in"})
    assert fields == {"name": "App", "redirect_uris": ["https://a.example/cb"], "kind": "sign_in",
                      "token_endpoint_auth_method": "client_secret_basic", "id_token_signed_response_alg": "RS256",
                      "jwks": None}


def test_a_change_is_checked_against_what_the_client_has():
    client = Client("cl_1", "App", "sign_in", ["https://a.example/cb"], "client_secret_basic", "RS256", None, NOW, NOW)
    with pytest.raises(InvalidInput, match="private_key_jwt needs jwks"):
        checked_registration({"token_endpoint_auth_method": "private_key_jwt"}, client)
    assert checked_registration({"name": "New"}, client) == {"name": "New"}


def test_the_previous_secret_works_only_until_its_overlap_ends():
    client = Client("cl_1", "App", "sign_in", [], "client_secret_post", "RS256", None, NOW, NOW,
                    secret_digest=token_digest("cs_new"), previous_secret_digest=token_digest("cs_old"),
                    previous_secret_expires_at=NOW + timedelta(hours=24))
    assert client.secret_matches("cs_new", NOW) and client.secret_matches("cs_old", NOW)
    later = NOW + timedelta(hours=24)
    assert client.secret_matches("cs_new", later) and not client.secret_matches("cs_old", later)
    assert not client.secret_matches("cs_other", NOW)
    assert "client_secret" not in client.as_json(NOW) and "secret_digest" not in client.as_json(NOW)
