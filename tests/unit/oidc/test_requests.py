"""Authorization requests: what one must be, in the order the specifications ask for."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from multidict import MultiDict

from mfa_flow.oidc.clients import Client
from mfa_flow.oidc.errors import OAuthError
from mfa_flow.oidc.requests import AuthorizationRequest, parse, redirect_target, s256, verifier_matches
from mfa_flow.tokens import ACR_MFA, ACR_PWD, ACR_TRUSTED_DEVICE

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
VERIFIER = "v" * 43
CALLBACK = "https://app.example/cb"


def client(kind: str = "sign_in") -> Client:
    return Client("cl_1", "App", kind, [CALLBACK], "client_secret_basic", "RS256", None, NOW, NOW)


def params(**changes) -> MultiDict:
    base = {"response_type": "code", "client_id": "cl_1", "redirect_uri": CALLBACK, "scope": "openid",
            "state": "s1", "nonce": "n1", "code_challenge": s256(VERIFIER), "code_challenge_method": "S256"}
    return MultiDict({k: v for k, v in {**base, **changes}.items() if v is not None})


def refused(query, kind="sign_in", pushed=False) -> OAuthError:
    with pytest.raises(OAuthError) as error:
        parse(query, client(kind), CALLBACK, pushed=pushed)
    return error.value


def test_a_complete_request_is_read_whole():
    request = parse(params(acr_values="urn:mfa-flow:acr:mfa", max_age="30", prompt="login consent",
                           ui_locales="de fr-CA"), client(), CALLBACK, pushed=False)
    assert request.acr_values == (ACR_MFA,) and request.max_age == 30 and request.prompt == ("login", "consent")
    assert request.ui_locales == "de fr-CA" and request.state == "s1" and request.nonce == "n1"
    assert AuthorizationRequest.from_json(request.to_json()) == request


@pytest.mark.parametrize("uri", [None, "https://app.example/cb/", "https://app.example/CB", "https://app.example/cb?x=1"])
def test_the_redirect_uri_must_equal_a_registered_one_exactly_or_no_redirect_happens(uri):
    with pytest.raises(OAuthError) as error:
        redirect_target(params(redirect_uri=uri), client())
    assert not error.value.redirect


def test_a_repeated_parameter_is_refused():
    query = params()
    query.add("state", "s2")
    assert "state was sent more than once" in refused(query).description


@pytest.mark.parametrize("changes, error", [
    ({"request": "eyJ..."}, "request_not_supported"),
    ({"response_type": "code id_token"}, "unsupported_response_type"),
    ({"response_mode": "fragment"}, "invalid_request"),
    ({"scope": "openid-ish profile"}, "invalid_scope"),
    ({"code_challenge": None}, "invalid_request"),
    ({"code_challenge_method": None}, "invalid_request"),
    ({"code_challenge": "too-short"}, "invalid_request"),
    ({"max_age": "-1"}, "invalid_request"),
    ({"max_age": "soon"}, "invalid_request"),
    ({"prompt": "none login"}, "invalid_request"),
    ({"prompt": "please"}, "invalid_request"),
    ({"ui_locales": "<script>"}, "invalid_request"),
    ({"acr_values": "urn:mfa-flow:acr:mfa urn:other"}, "unmet_authentication_requirements"),
    ({"prompt": "none"}, "login_required"),
])
def test_a_request_that_cannot_be_served_is_refused_with_its_oauth_error(changes, error):
    assert refused(params(**changes)).error == error


def test_a_login_hint_needs_an_asserting_client_and_a_pushed_request():
    assert "registered as asserting" in refused(params(login_hint="alice"), pushed=True).description
    assert "pushed authorization request" in refused(params(login_hint="alice"), kind="asserting").description
    assert "pushes its request" in refused(params(), kind="asserting", pushed=True).description
    assert parse(params(login_hint="alice"), client("asserting"), CALLBACK, pushed=True).login_hint == "alice"


@pytest.mark.parametrize("changes, step_up", [
    ({}, False),
    ({"max_age": "0"}, True),
    ({"max_age": "60"}, False),
    ({"prompt": "login"}, True),
    ({"acr_values": ACR_MFA}, True),
    ({"acr_values": f"{ACR_MFA} {ACR_PWD}"}, False),
])
def test_max_age_0_prompt_login_and_only_mfa_ask_for_a_second_factor_now(changes, step_up):
    assert parse(params(**changes), client(), CALLBACK, pushed=False).step_up is step_up


@pytest.mark.parametrize("asked, result, met", [
    ((), ACR_PWD, True),
    ((ACR_PWD,), ACR_MFA, True),
    ((ACR_TRUSTED_DEVICE,), ACR_PWD, False),
    ((ACR_TRUSTED_DEVICE, ACR_MFA), ACR_TRUSTED_DEVICE, True),
    ((ACR_MFA,), ACR_TRUSTED_DEVICE, False),
])
def test_a_result_meets_the_weakest_acr_asked_for_or_anything_stronger(asked, result, met):
    request = AuthorizationRequest("cl_1", CALLBACK, s256(VERIFIER), acr_values=asked)
    assert request.met_by(result) is met


def test_pkce_s256_matches_rfc_7636_appendix_b():
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert verifier_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    assert not verifier_matches(verifier[:-1], s256(verifier[:-1])[:-1] + "A")
    assert not verifier_matches("short", s256("short")), "a verifier has 43 to 128 characters"
