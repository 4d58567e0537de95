"""The client: one aiohttp session, JSON in and out, problems raised as exceptions, and the API's
groups — flows, the Management API, the audit API — as attributes::

    async with MfaFlowClient("https://id.example.com", key=ADMIN_KEY) as client:
        session = await client.flows.start({"user": {"id": "u-42"}})
        async for flow in session.stream():
            print(flow["state"])
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

import aiohttp

from ._shared import CLIENT_KEY
from .audit import Audit
from .embedding import ResultTokenVerifier
from .errors import error_for
from .flows import Flows
from .management import Config, OidcClients, Organizations, Users, Webhooks
from .models import Jwks


class MfaFlowClient:
    """An mfa-flow service at ``base_url``. ``key`` is the admin or auditor key (or None: a
    frontend's backend that only starts and drives flows with their own tokens).

    Use it as an async context manager, or call :meth:`close`. Pass ``session`` to share an
    aiohttp session of your own (it is then not closed here)."""

    def __init__(self, base_url: str, key: str | None = None, *, session: aiohttp.ClientSession | None = None,
                 timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.key = key
        self._session = session
        self._own_session = session is None
        self.timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
        self.flows = Flows(self)
        self.config = Config(self)
        self.users = Users(self)
        self.webhooks = Webhooks(self)
        self.oidc_clients = OidcClients(self)
        self.organizations = Organizations(self)
        self.audit = Audit(self)
        self._token_verifiers: dict[tuple[str, tuple[str, ...]], ResultTokenVerifier] = {}

    async def __aenter__(self) -> MfaFlowClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
        self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
            self._own_session = True
        return self._session

    def url(self, path: str) -> str:
        return self.base_url + path

    def headers(self, token: str | None = CLIENT_KEY) -> dict[str, str]:
        bearer = self.key if token is CLIENT_KEY else token
        return {"Authorization": f"Bearer {bearer}"} if bearer else {}

    async def response(self, method: str, path: str, *, json_body: Any = None, token: str | None = CLIENT_KEY,
                       params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None,
                       timeout: float | None = None) -> tuple[int, Mapping[str, str], bytes]:
        """One request: its status, headers and body; a problem (not 2xx, not 304) is raised."""
        query = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in (params or {}).items() if v is not None}
        session = self.session
        async with session.request(
            method, self.url(path), json=json_body, params=query, headers={**self.headers(token), **(headers or {})},
            timeout=aiohttp.ClientTimeout(sock_connect=timeout, sock_read=timeout) if timeout else session.timeout,
        ) as response:
            body = await response.read()
            if response.status >= 400:
                problem = _problem(body, response.status)
                retry = response.headers.get("Retry-After")
                raise error_for(response.status, problem,
                                int(retry) if retry and retry.isdigit() else problem.get("retry_after"))
            return response.status, response.headers, body

    async def request(self, method: str, path: str, **options: Any) -> Any:
        """One request, its JSON answer (None for 204 and 304)."""
        status, _, body = await self.response(method, path, **options)
        return None if status in (204, 304) or not body else json.loads(body)

    async def whoami(self) -> dict[str, Any]:
        """Which key this client holds: ``{"role": "admin" | "auditor" | ...}``."""
        return cast(dict[str, Any], await self.request("GET", "/api/whoami"))

    async def openapi(self) -> dict[str, Any]:
        """The OpenAPI document the service serves."""
        return cast(dict[str, Any], await self.request("GET", "/openapi.json", token=None))

    async def jwks(self) -> Jwks:
        """The keys that verify result tokens."""
        return cast(Jwks, await self.request("GET", "/.well-known/jwks.json", token=None))

    async def verify_result_token(self, token: str, *, issuer: str | None = None,
                                  audience: str | list[str] | None = None) -> dict[str, Any]:
        """A result token's claims once it verifies against this service's JWKS (fetched once and
        cached, fetched again when a token names a key it has not seen: a rotation). ``issuer`` and
        ``audience``, when given, must match; both are the service's ``MFA_FLOW_ISSUER`` by default
        of the service. Raises TokenVerificationError."""
        audiences = tuple([audience] if isinstance(audience, str) else audience or ())
        verifier = self._token_verifiers.get((issuer or "", audiences))
        if verifier is None:
            verifier = ResultTokenVerifier(self.base_url, issuer=issuer, audience=list(audiences) or None,
                                           session=self.session)
            self._token_verifiers[(issuer or "", audiences)] = verifier
        return await verifier.verify(token)


def _problem(body: bytes, status: int) -> dict[str, Any]:
    try:
        problem = json.loads(body) if body else {}
    except ValueError:
        problem = {"detail": body[:200].decode(errors="replace")}
    return problem if isinstance(problem, dict) else {"detail": str(problem), "status": status}
