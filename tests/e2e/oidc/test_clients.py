"""OpenID Connect clients in the Management API: registered by the admin key, the secret shown
once and stored as a digest only, changed, rotated and deleted."""

from __future__ import annotations

import hashlib

import pytest

from tests.e2e.oidc.conftest import REDIRECT_URI, unique

NEW = {"name": "Shop", "redirect_uris": [REDIRECT_URI], "kind": "sign_in"}


async def test_a_client_is_created_with_a_secret_shown_once_and_stored_as_a_digest(api, run_database):
    created = await api.admin("POST", "/api/oidc/clients", NEW)
    assert created.status == 201 and created.headers["Location"] == f"/api/oidc/clients/{created.body['client_id']}"
    client = created.body
    assert client["client_secret"].startswith("cs_") and client["token_endpoint_auth_method"] == "client_secret_basic"
    assert client["id_token_signed_response_alg"] == "RS256" and client["kind"] == "sign_in"

    shown = await api.admin("GET", f"/api/oidc/clients/{client['client_id']}")
    assert shown.status == 200 and "client_secret" not in shown.body
    assert shown.body == {k: v for k, v in client.items() if k != "client_secret"}
    listed = await api.admin("GET", "/api/oidc/clients")
    assert client["client_id"] in [c["client_id"] for c in listed.body["items"]]

    conn = await run_database.get()
    row = await conn.fetchrow("SELECT * FROM oidc_clients WHERE id = $1", client["client_id"])
    assert row["secret_digest"] == hashlib.sha256(client["client_secret"].encode()).digest()
    assert client["client_secret"] not in str(dict(row))


@pytest.mark.parametrize("change, field, why", [
    ({"redirect_uris": ["http://app.example/cb"]}, "redirect_uris[0]", "plain http is allowed only on localhost"),
    ({"redirect_uris": ["https://app.example/cb#top"]}, "redirect_uris[0]", "must not have a fragment"),
    ({"redirect_uris": ["/cb"]}, "redirect_uris[0]", "absolute https URI"),
    ({"token_endpoint_auth_method": "private_key_jwt"}, "jwks", "private_key_jwt needs jwks"),
    ({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AA",
                                                                          "d": "AA"}]}},
     "jwks", "holds a private key"),
    ({"name": "   "}, "name", "name must be 1 to 200 characters"),
])
async def test_a_registration_that_cannot_work_is_refused_naming_the_field(api, change, field, why):
    reply = await api.admin("POST", "/api/oidc/clients", {**NEW, **change})
    assert reply.status == 400 and field in reply.problem["detail"] and why in reply.problem["detail"]


@pytest.mark.parametrize("body", [{**NEW, "kind": "other"}, {**NEW, "colour": "red"}, {"name": "x"}])
async def test_a_body_outside_the_schema_is_refused(api, body):
    assert (await api.admin("POST", "/api/oidc/clients", body)).status == 400


async def test_only_the_admin_key_manages_clients(api):
    assert (await api.call("GET", "/api/oidc/clients")).status == 401
    assert (await api.auditor("GET", "/api/oidc/clients")).status == 403


async def test_a_change_to_a_method_with_a_secret_makes_one_and_a_change_away_forgets_it(api):
    from joserfc.jwk import OKPKey

    jwks = {"keys": [OKPKey.generate_key("Ed25519").as_dict(private=False)]}
    created = await api.admin("POST", "/api/oidc/clients", {**NEW, "token_endpoint_auth_method": "private_key_jwt",
                                                           "jwks": jwks, "name": unique("pk")})
    assert created.status == 201 and "client_secret" not in created.body
    client_id = created.body["client_id"]
    rotate = await api.admin("POST", f"/api/oidc/clients/{client_id}/rotate-secret")
    assert rotate.status == 409 and rotate.problem["type"].endswith("no-client-secret")

    moved = await api.admin("PATCH", f"/api/oidc/clients/{client_id}", {"token_endpoint_auth_method": "client_secret_post"})
    assert moved.status == 200 and moved.body["client_secret"].startswith("cs_")
    renamed = await api.admin("PATCH", f"/api/oidc/clients/{client_id}", {"name": "Renamed"})
    assert renamed.body["name"] == "Renamed" and "client_secret" not in renamed.body


async def test_a_deleted_client_is_gone_with_its_authorizations(api):
    created = await api.admin("POST", "/api/oidc/clients", NEW)
    client_id = created.body["client_id"]
    assert (await api.admin("DELETE", f"/api/oidc/clients/{client_id}")).status == 204
    assert (await api.admin("GET", f"/api/oidc/clients/{client_id}")).status == 404
    assert (await api.admin("DELETE", f"/api/oidc/clients/{client_id}")).status == 404


async def test_the_discovery_document_names_the_endpoints_and_choices(api, server):
    reply = await api.call("GET", "/.well-known/openid-configuration")
    assert reply.status == 200
    meta = reply.body
    issuer = f"http://localhost:{server.port}"
    assert meta["issuer"] == issuer and meta["authorization_endpoint"] == issuer + "/oidc/authorize"
    assert meta["token_endpoint"] == issuer + "/oidc/token"
    assert meta["pushed_authorization_request_endpoint"] == issuer + "/oidc/par"
    assert meta["jwks_uri"] == issuer + "/.well-known/jwks.json"
    assert meta["id_token_signing_alg_values_supported"][0] == "RS256"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["require_pushed_authorization_requests"] is False
    assert set(meta["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post",
                                                                  "private_key_jwt"}
    assert meta["acr_values_supported"] == ["urn:mfa-flow:acr:pwd", "urn:mfa-flow:acr:trusted-device",
                                            "urn:mfa-flow:acr:mfa"]
