"""Every refusal of the OpenID Provider, as a client sees it: an error page where nothing may
go back to the client, an error sent back to the redirect URI (with state and iss) where it
may, and OAuth's JSON errors at the PAR and token endpoints. A refusal changes nothing."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.e2e.oidc.conftest import REDIRECT_URI, issuer_of, unique
from tests.support.relying_party import RelyingParty


def answer_of(location: str) -> dict[str, str]:
    assert location.startswith(REDIRECT_URI + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def signed_in(api, register, browser, kind="sign_in", method="client_secret_basic", **params):
    """A finished authorization: (client, relying party, what it began, the redirect back)."""
    await api.configure([], "user_controlled")
    client, rp = await register(kind, method)
    if kind == "asserting":
        begun = await rp.begin(REDIRECT_URI, login_hint=unique("eve"), **params)
        url = await rp.pushed_url((await rp.push(begun))["request_uri"])
        flow = await browser.sign_in_page(url)
    else:
        user = await api.new_user(unique("dan"))
        begun = await rp.begin(REDIRECT_URI, **params)
        flow = await browser.sign_in_page(begun["url"])
        await flow.password(user["username"])
    return client, rp, begun, await browser.back_to_client(flow)


async def exchange(api, client, code: str, verifier: str | None, redirect_uri: str = REDIRECT_URI, secret=None):
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "client_id": client["client_id"], "client_secret": secret or client["client_secret"]}
    if verifier is not None:
        form["code_verifier"] = verifier
    return await api.call("POST", "/oidc/token", data=urlencode(form),
                          headers={"Content-Type": "application/x-www-form-urlencoded"})


# --- the authorization endpoint --------------------------------------------------------------


async def test_a_redirect_uri_not_registered_gets_an_error_page_not_a_redirect(api, register, browser):
    _, rp = await register("sign_in")
    begun = await rp.begin("http://127.0.0.1:9/callback/other")
    status, page = await browser.open(begun["url"])
    assert status == 400 and 'data-error="invalid_request"' in page
    assert "not one of the client&#x27;s registered redirect URIs" in page


@pytest.mark.parametrize("client_id, why", [
    ("cl_nobody", "no client &#x27;cl_nobody&#x27; is registered"),
    ("", "client_id is required"),
])
async def test_an_unknown_client_gets_an_error_page(browser, client_id, why):
    query = urlencode({"client_id": client_id, "redirect_uri": REDIRECT_URI, "response_type": "code"})
    status, page = await browser.open(f"{browser.api.base_url}/oidc/authorize?{query}")
    assert status == 400 and why in page


@pytest.mark.parametrize("params, error, why", [
    ({"code_challenge": None}, "invalid_request", "code_challenge is required"),
    ({"code_challenge_method": "plain"}, "invalid_request", "code_challenge_method must be S256"),
    ({"scope": "profile"}, "invalid_scope", "scope must contain openid"),
    ({"response_type": "token"}, "unsupported_response_type", "response_type must be code"),
    ({"prompt": "none"}, "login_required", "prompt=none"),
    ({"acr_values": "urn:other:loa:3"}, "unmet_authentication_requirements", "not offered"),
    ({"login_hint": "alice"}, "invalid_request", "login_hint is accepted only from a client registered as asserting"),
])
async def test_a_bad_request_of_a_known_client_goes_back_with_the_error_and_state(api, server, register, browser,
                                                                                   params, error, why):
    _, rp = await register("sign_in")
    begun = await rp.begin(REDIRECT_URI)
    query = {k: v[0] for k, v in parse_qs(urlsplit(begun["url"]).query).items()}
    query = {k: v for k, v in {**query, **params}.items() if v is not None}
    status, location = await browser.open(f"{browser.api.base_url}/oidc/authorize?{urlencode(query)}")
    assert status == 303
    answer = answer_of(location)
    assert answer["error"] == error and why in answer["error_description"]
    assert answer["state"] == begun["state"] and answer["iss"] == issuer_of(server)


async def test_a_login_hint_is_refused_from_a_client_not_registered_as_asserting_even_pushed(api, register):
    _, rp = await register("sign_in")
    pushed = await rp.push(await rp.begin(REDIRECT_URI, login_hint="alice"))
    assert pushed["status"] == 400 and pushed["error"] == "invalid_request"
    assert "only from a client registered as asserting" in pushed["error_description"]


async def test_an_asserting_client_must_push_its_login_hint(api, register, browser):
    _, rp = await register("asserting")
    begun = await rp.begin(REDIRECT_URI, login_hint="alice")
    status, location = await browser.open(begun["url"])  # straight to the browser: anyone could forge it
    assert status == 303 and "only in a pushed authorization request" in answer_of(location)["error_description"]


async def test_an_expired_pushed_request_is_refused(api, register, browser, run_database):
    _, rp = await register("asserting")
    begun = await rp.begin(REDIRECT_URI, login_hint=unique("old"))
    pushed = await rp.push(begun)
    conn = await run_database.get()
    await conn.execute("UPDATE oidc_pushed_requests SET expires_at = now() - interval '1 second'"
                       " WHERE client_id = $1", rp.client_id)
    status, location = await browser.open(await rp.pushed_url(pushed["request_uri"]))
    assert status == 303
    answer = answer_of(location)
    assert answer["error"] == "invalid_request_uri" and "expired" in answer["error_description"]
    assert answer["state"] == begun["state"]


async def test_a_pushed_request_is_used_once(api, register, browser):
    await api.configure([], "user_controlled")
    _, rp = await register("asserting")
    url = await rp.pushed_url((await rp.push(await rp.begin(REDIRECT_URI, login_hint=unique("once"))))["request_uri"])
    await browser.sign_in_page(url)
    status, location = await browser.open(url)
    assert status == 303 and "it was used already" in answer_of(location)["error_description"]


async def test_a_request_uri_of_another_client_is_unknown(api, register, browser):
    _, pusher = await register("asserting")
    _, other = await register("asserting")
    pushed = await pusher.push(await pusher.begin(REDIRECT_URI, login_hint=unique("x")))
    status, page = await browser.open(await other.pushed_url(pushed["request_uri"]))
    assert status == 400 and "request_uri is unknown for this client_id" in page


async def test_a_cancelled_sign_in_goes_back_as_access_denied(api, register, browser):
    await api.configure([], "user_controlled")
    _, rp = await register("sign_in")
    begun = await rp.begin(REDIRECT_URI)
    flow = await browser.sign_in_page(begun["url"])
    early = await api.call("POST", f"/oidc/authorizations/{flow.id}/return", flow.token)
    assert early.status == 409 and early.problem["type"].endswith("flow-not-finished")
    await flow.ok("cancel")
    answer = answer_of(await browser.back_to_client(flow))
    assert answer["error"] == "access_denied" and answer["state"] == begun["state"] and "code" not in answer


async def test_asking_for_mfa_with_no_factor_enabled_cannot_be_met(api, register, browser):
    await api.configure([], "user_controlled")
    _, rp = await register("sign_in")
    begun = await rp.begin(REDIRECT_URI, acr_values="urn:mfa-flow:acr:mfa")
    status, location = await browser.open(begun["url"])
    assert status == 303 and answer_of(location)["error"] == "unmet_authentication_requirements"


async def test_only_the_flows_token_may_send_it_back(api, register, browser):
    await api.configure([], "user_controlled")
    _, rp = await register("sign_in")
    flow = await browser.sign_in_page((await rp.begin(REDIRECT_URI))["url"])
    other = await api.start()
    reply = await api.call("POST", f"/oidc/authorizations/{flow.id}/return", other.token)
    assert reply.status == 403


# --- the token endpoint ---------------------------------------------------------------------


async def test_a_replayed_code_is_refused_and_revokes_what_it_issued(api, register, browser):
    client, rp, begun, back = await signed_in(api, register, browser, method="client_secret_post")
    code = answer_of(back)["code"]
    first = await exchange(api, client, code, begun["code_verifier"])
    assert first.status == 200 and first.headers["Cache-Control"] == "no-store"
    access = first.body["access_token"]
    assert (await api.call("GET", "/oidc/userinfo", access)).status == 200
    second = await exchange(api, client, code, begun["code_verifier"])
    assert second.status == 400 and second.body["error"] == "invalid_grant"
    assert "revoked" in second.body["error_description"]
    revoked = await api.call("GET", "/oidc/userinfo", access)
    assert revoked.status == 401 and revoked.body["error"] == "invalid_token"
    assert 'error="invalid_token"' in revoked.headers["WWW-Authenticate"]


@pytest.mark.parametrize("verifier, error, why", [
    (None, "invalid_request", "code_verifier is required"),
    ("x" * 43, "invalid_grant", "does not match the code_challenge"),
    ("short", "invalid_grant", "does not match the code_challenge"),
])
async def test_a_missing_or_wrong_pkce_verifier_is_refused_and_the_code_still_works(api, register, browser,
                                                                                     verifier, error, why):
    client, rp, begun, back = await signed_in(api, register, browser, method="client_secret_post")
    code = answer_of(back)["code"]
    refused = await exchange(api, client, code, verifier)
    assert refused.status == 400 and refused.body["error"] == error and why in refused.body["error_description"]
    assert (await exchange(api, client, code, begun["code_verifier"])).status == 200


async def test_a_code_is_refused_with_another_redirect_uri(api, register, browser):
    client, rp, begun, back = await signed_in(api, register, browser, method="client_secret_post")
    refused = await exchange(api, client, answer_of(back)["code"], begun["code_verifier"],
                             redirect_uri=REDIRECT_URI + "/x")
    assert refused.status == 400 and refused.body["error"] == "invalid_grant"


async def test_a_token_request_from_another_client_is_refused(api, register, browser):
    client, rp, begun, back = await signed_in(api, register, browser, method="client_secret_post")
    other, _ = await register("sign_in", "client_secret_post")
    refused = await exchange(api, other, answer_of(back)["code"], begun["code_verifier"])
    assert refused.status == 400 and refused.body["error"] == "invalid_grant"
    assert "issued to another client" in refused.body["error_description"]
    assert (await exchange(api, client, answer_of(back)["code"], begun["code_verifier"])).status == 200


async def test_an_expired_code_is_refused(api, register, browser, run_database):
    client, rp, begun, back = await signed_in(api, register, browser, method="client_secret_post")
    conn = await run_database.get()
    await conn.execute("UPDATE oidc_authorizations SET code_expires_at = now() - interval '1 second'"
                       " WHERE client_id = $1", client["client_id"])
    refused = await exchange(api, client, answer_of(back)["code"], begun["code_verifier"])
    assert refused.status == 400 and "expired" in refused.body["error_description"]


@pytest.mark.parametrize("secret, method, why", [
    ("cs_wrong", "client_secret_post", "the client secret is not right"),
    (None, "client_secret_basic", "authenticates with client_secret_post, not client_secret_basic"),
])
async def test_a_client_that_does_not_authenticate_gets_invalid_client_401(api, register, browser, secret, method, why):
    client, rp, begun, back = await signed_in(api, register, browser, method="client_secret_post")
    form = {"grant_type": "authorization_code", "code": answer_of(back)["code"], "redirect_uri": REDIRECT_URI,
            "code_verifier": begun["code_verifier"]}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if method == "client_secret_post":
        form.update(client_id=client["client_id"], client_secret=secret)
    else:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
    refused = await api.call("POST", "/oidc/token", data=urlencode(form), headers=headers)
    assert refused.status == 401 and refused.body["error"] == "invalid_client" and why in refused.body["error_description"]
    assert refused.headers["WWW-Authenticate"].startswith("Basic")


async def test_a_private_key_jwt_assertion_is_accepted_once(api, register, server):
    from joserfc import jwt
    from joserfc.jwk import ECKey

    key = ECKey.generate_key("P-256")
    client, _ = await register("asserting", "private_key_jwt", private_key=key, jwks={"keys": [key.as_dict(private=False)]})
    issuer = issuer_of(server)
    now = int(datetime.now(UTC).timestamp())
    assertion = jwt.encode({"alg": "ES256"}, {"iss": client["client_id"], "sub": client["client_id"], "aud": issuer,
                                              "jti": unique("jti"), "exp": now + 60, "iat": now}, key)
    rp = RelyingParty(issuer, client["client_id"], key, "private_key_jwt")
    begun = await rp.begin(REDIRECT_URI, login_hint=unique("pk"))
    form = {k: v[0] for k, v in parse_qs(urlsplit(begun["url"]).query).items()}
    form.update(client_assertion=assertion, client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    first = await api.call("POST", "/oidc/par", data=urlencode(form), headers=headers)
    assert first.status == 201, first
    again = await api.call("POST", "/oidc/par", data=urlencode(form), headers=headers)
    assert again.status == 401 and "used before" in again.body["error_description"]


async def test_a_rotated_secret_keeps_working_for_the_overlap_then_not(api, register, run_database):
    client, _ = await register("sign_in", "client_secret_post")
    rotated = await api.admin("POST", f"/api/oidc/clients/{client['client_id']}/rotate-secret")
    assert rotated.status == 200 and rotated.body["client_secret"] != client["client_secret"]
    assert rotated.body["previous_secret_expires_at"]

    async def authenticates(secret: str) -> bool:
        form = {"client_id": client["client_id"], "client_secret": secret, "grant_type": "authorization_code",
                "code": "oc_none", "redirect_uri": REDIRECT_URI, "code_verifier": "v" * 43}
        reply = await api.call("POST", "/oidc/token", data=urlencode(form),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
        return reply.body["error"] != "invalid_client"  # past authentication, the code is what is refused

    assert await authenticates(client["client_secret"]) and await authenticates(rotated.body["client_secret"])
    conn = await run_database.get()
    await conn.execute("UPDATE oidc_clients SET previous_secret_expires_at = $2 WHERE id = $1", client["client_id"],
                       datetime.now(UTC) - timedelta(seconds=1))
    assert not await authenticates(client["client_secret"]) and await authenticates(rotated.body["client_secret"])
    shown = await api.admin("GET", f"/api/oidc/clients/{client['client_id']}")
    assert shown.body["previous_secret_expires_at"] is None and "client_secret" not in shown.body


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
async def test_the_token_endpoint_wants_a_form(api, content_type):
    reply = await api.call("POST", "/oidc/token", data="{}", headers={"Content-Type": content_type})
    assert reply.status == 400 and reply.body["error"] == "invalid_request"


async def test_a_wrong_grant_type_is_named(api, register, browser):
    client, rp, begun, back = await signed_in(api, register, browser, method="client_secret_post")
    form = {"grant_type": "client_credentials", "client_id": client["client_id"], "client_secret": client["client_secret"]}
    reply = await api.call("POST", "/oidc/token", data=urlencode(form),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 400 and reply.body["error"] == "unsupported_grant_type"



async def test_a_nul_anywhere_is_a_clear_refusal_not_a_server_error(api, register, browser):
    _, rp = await register("sign_in", "client_secret_post")
    begun = await rp.begin(REDIRECT_URI, state="a\x00b")
    status, location = await browser.open(begun["url"])
    assert status == 303 and "NUL" in answer_of(location)["error_description"]
    status, page = await browser.open(f"{api.base_url}/oidc/authorize?client_id=cl%00x")
    assert status == 400 and "NUL" in page
    form = {"grant_type": "authorization_code", "client_id": "cl\x00", "client_secret": "x", "code": "c"}
    token = await api.call("POST", "/oidc/token", data=urlencode(form),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert token.status == 401
    named = await api.admin("POST", "/api/oidc/clients", {"name": "a\x00", "redirect_uris": [REDIRECT_URI],
                                                         "kind": "sign_in"})
    assert named.status == 400 and "NUL" in named.problem["detail"]


async def test_the_ui_locales_go_to_the_sign_in_page(api, register, browser):
    _, rp = await register("sign_in")
    begun = await rp.begin(REDIRECT_URI, ui_locales="de fr")
    status, location = await browser.open(begun["url"])
    assert status == 303 and parse_qs(urlsplit(location).query)["ui_locales"] == ["de fr"]
