"""Both kinds of client, end to end, driven by authlib against a real server: PAR, PKCE, the
code exchange with each client authentication method, and the ID token validated by authlib
against the discovery document and the JWKS."""

from __future__ import annotations

import time

import pytest
from joserfc.jwk import OKPKey

from tests.e2e.oidc.conftest import REDIRECT_URI, issuer_of, unique
from tests.support.otp import fresh_code
from tests.support.verifiers import LIBRARIES


async def test_an_asserting_client_pushes_its_user_and_gets_an_mfa_sign_in(api, register, browser):
    await api.configure(["totp"], "mandatory")
    client, rp = await register("asserting")
    user = unique("alice")
    begun = await rp.begin(REDIRECT_URI, login_hint=user)
    pushed = await rp.push(begun)
    assert pushed["status"] == 201 and pushed["expires_in"] == 60
    assert pushed["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")

    flow = await browser.sign_in_page(await rp.pushed_url(pushed["request_uri"]))
    assert flow.state == "totp_setup", "the app checked the password: mfa-flow starts after it"
    await flow.ok("submit_totp", code=await fresh_code(flow.flow["challenge"]["secret"]))
    assert flow.state == "done"

    token, claims = await rp.finish(await browser.back_to_client(flow), begun, REDIRECT_URI)
    assert token["token_type"] == "Bearer" and token["expires_in"] == 300
    assert claims["sub"] == user and claims["aud"] == client["client_id"] and claims["sid"] == flow.id
    assert claims["acr"] == "urn:mfa-flow:acr:mfa" and "otp" in claims["amr"]
    assert claims["nonce"] == begun["nonce"] and abs(claims["auth_time"] - time.time()) < 60

    first = (await api.transitions(flow.id))[0]
    assert first["event"] == "first_factor_asserted" and first["actor"] == "system"
    assert first["data"]["oidc"] == {"client_id": client["client_id"], "acr_values": []}


async def test_a_sign_in_client_sends_its_user_to_the_password_first(api, register, browser):
    await api.configure([], "user_controlled")
    user = await api.new_user(unique("bob"))
    client, rp = await register("sign_in", "client_secret_post", id_token_signed_response_alg="ES256")
    begun = await rp.begin(REDIRECT_URI)

    flow = await browser.sign_in_page(begun["url"])  # a plain authorization request, no PAR
    assert flow.state == "first_factor"
    await flow.password(user["username"])
    assert flow.state == "done"

    token, claims = await rp.finish(await browser.back_to_client(flow), begun, REDIRECT_URI)
    assert claims["sub"] == user["id"] and claims["acr"] == "urn:mfa-flow:acr:pwd" and claims["amr"] == ["pwd"]
    userinfo = await api.call("GET", "/oidc/userinfo", token["access_token"])
    assert userinfo.status == 200 and userinfo.body == {"sub": user["id"]}
    rows = await api.transitions(flow.id)
    assert rows[0]["event"] == "submit_password" and rows[0]["data"]["oidc"]["client_id"] == client["client_id"]


@pytest.mark.parametrize("alg", ["EdDSA", "RS256"])
async def test_a_client_authenticates_with_a_signed_assertion(api, register, browser, alg):
    await api.configure([], "user_controlled")
    key = OKPKey.generate_key("Ed25519")
    jwks = {"keys": [key.as_dict(private=False)]}
    _, rp = await register("asserting", "private_key_jwt", private_key=key, jwks=jwks,
                           id_token_signed_response_alg=alg)
    user = unique("carol")
    begun = await rp.begin(REDIRECT_URI, login_hint=user)
    pushed = await rp.push(begun)
    assert pushed["status"] == 201, pushed
    flow = await browser.sign_in_page(await rp.pushed_url(pushed["request_uri"]))
    assert flow.state == "done"  # no factor is enabled: the app's word is the whole sign-in
    _, claims = await rp.finish(await browser.back_to_client(flow), begun, REDIRECT_URI)
    assert claims["sub"] == user and claims["acr"] == "urn:mfa-flow:acr:pwd"


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
async def test_every_common_jose_library_verifies_the_id_token(api, server, register, browser, alg):
    await api.configure([], "user_controlled")
    client, rp = await register("asserting", id_token_signed_response_alg=alg)
    user = unique("dora")
    begun = await rp.begin(REDIRECT_URI, login_hint=user)
    flow = await browser.sign_in_page(await rp.pushed_url((await rp.push(begun))["request_uri"]))
    token, _ = await rp.finish(await browser.back_to_client(flow), begun, REDIRECT_URI)
    jwks = (await api.call("GET", "/.well-known/jwks.json")).body
    for name, verify in LIBRARIES.items():
        claims = verify(token["id_token"], jwks, issuer_of(server), client["client_id"], [alg])
        assert claims["sub"] == user and claims["sid"] == flow.id, name
