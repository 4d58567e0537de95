"""Codes: where the browser goes back to, and what a code may be exchanged for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from mfa_flow.oidc.errors import OAuthError
from mfa_flow.oidc.grants import Authorization, CodeReplayed, check_exchange, redirect
from mfa_flow.oidc.requests import AuthorizationRequest, s256

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
VERIFIER = "v" * 43
REQUEST = AuthorizationRequest("cl_1", "https://app.example/cb?tenant=7", s256(VERIFIER), state="s&1")


def test_the_answer_keeps_the_redirect_uris_own_query_and_names_state_and_issuer():
    parts = urlsplit(redirect(REQUEST, "https://id.example", code="oc_1"))
    assert parts.netloc == "app.example" and parts.path == "/cb"
    assert parse_qs(parts.query) == {"tenant": ["7"], "code": ["oc_1"], "state": ["s&1"], "iss": ["https://id.example"]}


def authorization(**changes) -> Authorization:
    fields = {"flow_id": "f1", "client_id": "cl_1", "request": REQUEST, "created_at": NOW,
              "code_expires_at": NOW + timedelta(seconds=60), **changes}
    return Authorization(**fields)


FORM = {"redirect_uri": REQUEST.redirect_uri, "code_verifier": VERIFIER}


def test_a_fresh_code_of_this_client_with_its_redirect_uri_and_verifier_is_exchanged():
    assert check_exchange(authorization(), "cl_1", FORM, NOW).flow_id == "f1"


@pytest.mark.parametrize("found, client, form, now, error, why", [
    (None, "cl_1", FORM, NOW, "invalid_grant", "not valid"),
    (authorization(), "cl_2", FORM, NOW, "invalid_grant", "another client"),
    (authorization(), "cl_1", FORM, NOW + timedelta(seconds=60), "invalid_grant", "expired"),
    (authorization(), "cl_1", {**FORM, "redirect_uri": "https://app.example/cb"}, NOW, "invalid_grant", "redirect_uri"),
    (authorization(), "cl_1", {"code_verifier": VERIFIER}, NOW, "invalid_request", "redirect_uri is required"),
    (authorization(), "cl_1", {"redirect_uri": REQUEST.redirect_uri}, NOW, "invalid_request", "code_verifier"),
    (authorization(), "cl_1", {**FORM, "code_verifier": "w" * 43}, NOW, "invalid_grant", "does not match"),
])
def test_every_other_exchange_is_refused(found, client, form, now, error, why):
    with pytest.raises(OAuthError) as refused:
        check_exchange(found, client, form, now)
    assert refused.value.error == error and why in refused.value.description
    assert not isinstance(refused.value, CodeReplayed)


def test_a_used_code_is_a_replay_before_anything_else_is_checked():
    with pytest.raises(CodeReplayed):
        check_exchange(authorization(code_used_at=NOW), "cl_1", {}, NOW + timedelta(hours=1))
