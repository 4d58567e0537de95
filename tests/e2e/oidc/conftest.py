"""What the OpenID Connect tests share: a client registered through the Management API, an
authlib relying party for it, and the browser's part."""

from __future__ import annotations

import pytest

from tests.support.names import unique
from tests.support.relying_party import Browser, RelyingParty

REDIRECT_URI = "http://127.0.0.1:9/callback"  # never called: the tests read the redirect itself



def issuer_of(server) -> str:
    return f"http://localhost:{server.port}"


@pytest.fixture
def browser(api) -> Browser:
    return Browser(api)


@pytest.fixture
def register(api, server):
    """Register a client (the admin key) and return (its JSON with the secret, a relying party)."""

    async def registered(kind: str, method: str = "client_secret_basic", private_key=None, **fields):
        body = {"name": unique("app"), "redirect_uris": [REDIRECT_URI], "kind": kind,
                "token_endpoint_auth_method": method, **fields}
        reply = await api.admin("POST", "/api/oidc/clients", body)
        assert reply.status == 201, reply
        client = reply.body
        secret = private_key if method == "private_key_jwt" else client["client_secret"]
        return client, RelyingParty(issuer_of(server), client["client_id"], secret, method)

    return registered
