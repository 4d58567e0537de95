"""An OpenID Connect relying party made of authlib's own client parts (what its Starlette
integration is, less the web framework): discovery, PKCE, the code exchange with each client
authentication method, and the ID token checked against the discovery document and the
JWKS by authlib itself. authlib has no PAR call, so ``push`` posts the parameters authlib made
to the PAR endpoint with authlib's client authentication (RFC 9126 §2.1).

The browser's part is played with plain HTTP: the authorization endpoint's redirect to the
sign-in page carries the flow and its token, the flow is driven through the API as the page
would, and the page's way back (``/oidc/authorizations/{flow}/return``) gives the redirect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from authlib.integrations.base_client import BaseApp
from authlib.integrations.base_client.async_app import AsyncOAuth2Mixin
from authlib.integrations.base_client.async_openid import AsyncOpenIDMixin
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT

from tests.support.client import Api, FlowClient
from tests.support.schemas import check_flow

_ASSERTION_ALG = {"OKP": "EdDSA", "EC": "ES256", "RSA": "RS256"}


class RelyingParty(AsyncOAuth2Mixin, AsyncOpenIDMixin, BaseApp):
    client_cls = AsyncOAuth2Client

    def __init__(self, issuer: str, client_id: str, secret: Any, method: str = "client_secret_basic"):
        super().__init__(
            framework=None,
            name="mfa-flow",
            client_id=client_id,
            client_secret=secret,  # for private_key_jwt: the private key (a joserfc key)
            server_metadata_url=f"{issuer}/.well-known/openid-configuration",
            client_kwargs={"scope": "openid", "code_challenge_method": "S256", "token_endpoint_auth_method": method},
            client_auth_methods=[PrivateKeyJWT(alg=_ASSERTION_ALG[secret.key_type])] if method == "private_key_jwt" else None,
        )

    async def begin(self, redirect_uri: str, **params: str) -> dict[str, Any]:
        """authlib's authorization request: ``url`` (with state, nonce, the PKCE challenge),
        and what the app keeps for later (``state``, ``nonce``, ``code_verifier``)."""
        return await self.create_authorization_url(redirect_uri, **params)

    async def push(self, begun: dict[str, Any]) -> dict[str, Any]:
        """RFC 9126: the authorization parameters, posted with the client's authentication;
        the answer (``request_uri``, ``expires_in``)."""
        metadata = await self.load_server_metadata()
        params = {k: v[0] for k, v in parse_qs(urlsplit(begun["url"]).query).items()}
        async with self._get_oauth_client(**metadata) as client:
            response = await client.post(metadata["pushed_authorization_request_endpoint"], data=params,
                                         auth=client.client_auth(client.token_endpoint_auth_method))
        return {"status": response.status_code, **response.json()}

    async def pushed_url(self, request_uri: str) -> str:
        metadata = await self.load_server_metadata()
        return f"{metadata['authorization_endpoint']}?{urlencode({'client_id': self.client_id, 'request_uri': request_uri})}"

    async def finish(self, redirect_to: str, begun: dict[str, Any], redirect_uri: str) -> tuple[dict, dict]:
        """Back at the redirect URI: state and iss checked, the code exchanged, the ID token
        validated by authlib (signature with the JWKS, iss, aud, exp, nonce). Returns the
        token answer and the ID token's claims."""
        answer = parse_qs(urlsplit(redirect_to).query)
        assert answer["state"] == [begun["state"]], answer
        metadata = await self.load_server_metadata()
        assert answer["iss"] == [metadata["issuer"]], "RFC 9207: the response names its issuer"
        assert "error" not in answer, answer
        token = await self.fetch_access_token(redirect_uri=redirect_uri, code=answer["code"][0],
                                              code_verifier=begun["code_verifier"])
        claims = await self.parse_id_token(token, nonce=begun["nonce"])
        return token, dict(claims)


@dataclass
class Browser:
    """The browser's part: follows the authorization endpoint's redirect to the sign-in page,
    and the page's way back."""

    api: Api

    async def open(self, url: str) -> tuple[int, str]:
        async with self.api.session.get(url, allow_redirects=False) as response:
            return response.status, response.headers.get("Location", "") or await response.text()

    async def sign_in_page(self, url: str) -> FlowClient:
        """The flow the authorization started, as the sign-in page gets it (the redirect's
        ``flow`` and, in the fragment, its token)."""
        status, location = await self.open(url)
        assert status == 303 and location.startswith("/?flow="), (status, location)
        parts = urlsplit(location)
        flow_id = parse_qs(parts.query)["flow"][0]
        token = parse_qs(parts.fragment)["flow_token"][0]
        reply = await self.api.call("GET", f"/api/flows/{flow_id}", token)
        assert reply.status == 200, reply
        return FlowClient(self.api, check_flow(reply.body), token)

    async def back_to_client(self, flow: FlowClient) -> str:
        reply = await self.api.call("POST", f"/oidc/authorizations/{flow.id}/return", flow.token)
        assert reply.status == 200, reply
        return reply.body["redirect_to"]
