"""The signed result of a sign-in: a JWS that an embedding app verifies with the JWKS alone.

Verified here with jwcrypto, a JOSE library independent of the one that signs, and by default
with every JOSE library a relying party is likely to use (PyJWT, jwcrypto, joserfc, npm jose).
"""

from __future__ import annotations

import json
import time

import pytest
from jwcrypto import jwk, jws, jwt

from tests.support.cli import mfa_flow
from tests.support.client import Api
from tests.support.names import unique
from tests.support.verifiers import LIBRARIES


async def jwks(api: Api) -> jwk.JWKSet:
    reply = await api.call("GET", "/.well-known/jwks.json")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("application/jwk-set+json")
    assert all("d" not in key for key in reply.body["keys"]), "never a private half"
    return jwk.JWKSet.from_json(json.dumps(reply.body))


def claims_of(token: str, keys: jwk.JWKSet, audience: str = "mfa-flow") -> dict:
    checked = jwt.JWT(jwt=token, key=keys, algs=["ES256"], check_claims={"iss": "mfa-flow", "aud": audience, "exp": None})
    return json.loads(checked.claims)


async def signed_in(api: Api, user_id: str) -> dict:
    await api.configure([], "user_controlled")  # no factor enabled: done after the first factor
    flow = await api.start({"id": user_id})
    assert flow.state == "done"
    return flow.flow


async def test_a_completed_flow_carries_a_token_the_jwks_verifies(api):
    user = unique("tia")
    flow = await signed_in(api, user)
    token = flow["result"]["token"]
    header = json.loads(jws.base64url_decode(token.split(".")[0]))
    assert header["alg"] == "ES256" and header["kid"]
    claims = claims_of(token, await jwks(api))
    assert claims["sub"] == user and claims["sid"] == flow["id"]
    assert claims["amr"] == flow["result"]["amr"] and claims["acr"] == "urn:mfa-flow:acr:pwd"
    assert claims["exp"] - claims["iat"] == 300 and abs(claims["iat"] - time.time()) < 120


async def test_the_token_never_enters_the_transition_log(api):
    flow = await signed_in(api, unique("tom"))
    log = (await api.auditor("GET", f"/api/flows/{flow['id']}/transitions")).body
    assert log and flow["result"]["token"] not in json.dumps(log)
    assert all("token" not in row["data"] for row in log)


async def test_a_changed_token_does_not_verify(api):
    token = (await signed_in(api, unique("ted")))["result"]["token"]
    head, payload, signature = token.split(".")
    claims = json.loads(jws.base64url_decode(payload))
    claims["sub"] = "someone-else"
    forged = ".".join([head, jws.base64url_encode(json.dumps(claims)), signature])
    with pytest.raises(Exception):
        claims_of(forged, await jwks(api))


async def test_a_rotated_key_keeps_verifying_until_it_is_removed(api, server):
    old_token = (await signed_in(api, unique("rot")))["result"]["token"]
    old_kid = json.loads(jws.base64url_decode(old_token.split(".")[0]))["kid"]

    rotated = mfa_flow(server, "keys", "rotate")
    assert rotated.code == 0 and f"retired {old_kid}" in rotated.out, rotated.out + rotated.err
    new_token = (await signed_in(api, unique("rot")))["result"]["token"]
    new_kid = json.loads(jws.base64url_decode(new_token.split(".")[0]))["kid"]
    assert new_kid != old_kid
    keys = await jwks(api)
    assert {old_kid, new_kid} <= {k["kid"] for k in json.loads(keys.export(private_keys=False))["keys"]}
    claims_of(old_token, keys)  # still in circulation: still verifies
    claims_of(new_token, keys)

    listed = mfa_flow(server, "keys", "list").out
    assert f"{old_kid}  retired" in listed and f"{new_kid}  active" in listed

    assert mfa_flow(server, "keys", "remove", "--", old_kid).code == 0
    keys = await jwks(api)
    assert old_kid not in {k["kid"] for k in json.loads(keys.export(private_keys=False))["keys"]}
    with pytest.raises(Exception):
        claims_of(old_token, keys)
    claims_of(new_token, keys)


async def test_the_audience_is_configurable(start_server, http):
    server = await start_server.started(MFA_FLOW_TOKEN_AUDIENCE="https://app.example")
    api = Api(server.base_url, http)
    token = (await signed_in(api, unique("aud")))["result"]["token"]
    assert claims_of(token, await jwks(api), audience="https://app.example")["aud"] == "https://app.example"


@pytest.mark.parametrize("library", LIBRARIES)
async def test_every_common_jose_library_verifies_the_default_token(api, library):
    user = unique("lib")
    flow = await signed_in(api, user)
    jwks = (await api.call("GET", "/.well-known/jwks.json")).body
    claims = LIBRARIES[library](flow["result"]["token"], jwks, "mfa-flow", "mfa-flow", ["ES256"])
    assert claims["sub"] == user and claims["sid"] == flow["id"]


@pytest.mark.parametrize("alg", ["Ed25519", "EdDSA", "RS256"])
async def test_the_algorithm_stays_selectable(start_server, http, alg):
    server = await start_server.started(MFA_FLOW_TOKEN_ALG=alg)
    api = Api(server.base_url, http)
    token = (await signed_in(api, unique("alg")))["result"]["token"]
    assert json.loads(jws.base64url_decode(token.split(".")[0]))["alg"] == alg
    jwks = (await api.call("GET", "/.well-known/jwks.json")).body
    # jwcrypto, joserfc and npm jose know both names of Ed25519 signatures; PyJWT 2 knows only EdDSA.
    verifiers = [name for name in LIBRARIES if not (alg == "Ed25519" and name == "PyJWT")]
    for name in verifiers:
        assert LIBRARIES[name](token, jwks, "mfa-flow", "mfa-flow", [alg])["sub"].startswith("alg-"), name


async def test_pyjwt_refuses_the_fully_specified_ed25519_name_which_is_why_it_is_no_default(start_server, http):
    server = await start_server.started(MFA_FLOW_TOKEN_ALG="Ed25519")
    api = Api(server.base_url, http)
    token = (await signed_in(api, unique("ed")))["result"]["token"]
    jwks = (await api.call("GET", "/.well-known/jwks.json")).body
    with pytest.raises(Exception, match="algorithm"):
        LIBRARIES["PyJWT"](token, jwks, "mfa-flow", "mfa-flow", ["Ed25519", "EdDSA"])


async def test_the_jwks_holds_a_key_for_every_algorithm_and_names_it(api):
    keys = (await api.call("GET", "/.well-known/jwks.json")).body["keys"]
    by_type = {(k["kty"], k.get("crv")): k for k in keys}
    assert by_type[("RSA", None)]["alg"] == "RS256" and by_type[("EC", "P-256")]["alg"] == "ES256"
    # One Ed25519 key signs both Ed25519 and EdDSA, so its entry names neither.
    assert "alg" not in by_type[("OKP", "Ed25519")]
    assert all(k["use"] == "sig" and "d" not in k for k in keys)
