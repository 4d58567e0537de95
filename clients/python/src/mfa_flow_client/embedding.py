"""What an embedding backend checks, in one call each.

- :func:`verify_webhook`: a delivery's Standard Webhooks signature, with the ``standardwebhooks``
  package (HMAC-SHA256 over ``id.timestamp.body``, a 5-minute tolerance for the timestamp).
- :class:`ResultTokenVerifier`: a result token (a JWS) against the service's JWKS, with
  ``joserfc``. The key set is fetched once and cached; a token signed by a key the cache does not
  hold (the service rotated its key) makes it fetch the set again — at most once per
  ``cooldown`` seconds, so tokens with made-up key ids cannot make it fetch on every call.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from typing import Any, cast

import aiohttp
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError as _LibraryVerificationError

from .errors import TokenVerificationError, WebhookVerificationError
from .models import WebhookMessage

ALGORITHMS = ("Ed25519", "EdDSA", "RS256", "ES256")


def verify_webhook(secret: str, body: bytes | str, headers: Mapping[str, str]) -> WebhookMessage:
    """The delivery's message (``{"type", "timestamp", "data"}``) once its signature holds.

    ``body`` is the request body exactly as it arrived (re-serialised JSON no longer matches);
    ``headers`` the request's headers (any mapping; names in any case). Raises
    WebhookVerificationError naming what does not hold."""
    plain = {k.lower(): v for k, v in headers.items()}
    missing = [n for n in ("webhook-id", "webhook-timestamp", "webhook-signature") if not plain.get(n)]
    if missing:
        raise WebhookVerificationError(f"the delivery has no {', '.join(missing)} header")
    try:
        return cast(WebhookMessage, Webhook(secret).verify(body, plain))
    except (_LibraryVerificationError, ValueError, UnicodeDecodeError) as exc:
        # (older standardwebhooks raise ValueError for a header without a comma, UnicodeDecodeError
        # for a body that is not UTF-8)
        raise WebhookVerificationError(str(exc) or type(exc).__name__) from None


class ResultTokenVerifier:
    """Verifies result tokens of the service at ``base_url`` (or of the key set at ``jwks_url``).

    ``issuer`` and ``audience`` are checked when given (the service's ``MFA_FLOW_ISSUER`` and
    ``MFA_FLOW_TOKEN_AUDIENCE``); ``leeway`` seconds are allowed on ``exp``, ``nbf`` and ``iat``."""

    def __init__(self, base_url: str | None = None, *, jwks_url: str | None = None, issuer: str | None = None,
                 audience: str | list[str] | None = None, algorithms: tuple[str, ...] = ALGORITHMS,
                 cache_seconds: float = 600, cooldown: float = 5, leeway: int = 5,
                 session: aiohttp.ClientSession | None = None):
        where = jwks_url or (base_url and base_url.rstrip("/") + "/.well-known/jwks.json")
        if not where:
            raise ValueError("base_url or jwks_url is required")
        self.jwks_url = where
        self.issuer = issuer
        self.audiences = [audience] if isinstance(audience, str) else audience
        self.algorithms = list(algorithms)
        self.cache_seconds = cache_seconds
        self.cooldown = cooldown
        self.leeway = leeway
        self._session = session
        self._keys: KeySet | None = None
        self._kids: set[str] = set()
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def _fetch(self) -> None:
        session = self._session if self._session is not None and not self._session.closed else None
        own = session is None
        session = session or aiohttp.ClientSession()
        try:
            async with session.get(self.jwks_url, timeout=aiohttp.ClientTimeout(total=15)) as response:
                if response.status != 200:
                    raise TokenVerificationError(f"the key set at {self.jwks_url} answered {response.status}")
                document = json.loads(await response.read())
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise TokenVerificationError(f"the key set at {self.jwks_url} could not be read: {exc}") from None
        finally:
            if own:
                await session.close()
        try:
            self._keys = KeySet.import_key_set(document)
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise TokenVerificationError(f"the key set at {self.jwks_url} is not a JWK Set: {exc}") from None
        self._kids = {key.get("kid") for key in document.get("keys", []) if key.get("kid")}
        self._fetched_at = time.monotonic()

    async def _key_set_for(self, kid: str | None) -> KeySet:
        async with self._lock:
            age = time.monotonic() - self._fetched_at
            stale = self._keys is None or age > self.cache_seconds
            unknown = kid is not None and kid not in self._kids and age >= self.cooldown
            if stale or unknown:
                await self._fetch()
            assert self._keys is not None
            return self._keys

    async def verify(self, token: str) -> dict[str, Any]:
        """The token's claims (``iss``, ``sub`` = the user, ``aud``, ``iat``, ``exp``, ``sid`` = the
        flow, ``amr``, ``acr`` …) once its signature and claims hold; TokenVerificationError
        saying what does not hold otherwise."""
        try:
            header = jws.extract_compact(token.encode()).protected
        except (JoseError, ValueError) as exc:
            raise TokenVerificationError(f"not a compact JWS: {exc}") from None
        if header.get("alg") not in self.algorithms:
            raise TokenVerificationError(f"the token's algorithm {header.get('alg')!r} is not accepted")
        kid = header.get("kid")
        keys = await self._key_set_for(kid)
        if kid is not None and kid not in self._kids:
            raise TokenVerificationError(f"no key {kid!r} in the key set at {self.jwks_url}: not a token of this service")
        try:
            decoded = jwt.decode(token, keys, algorithms=self.algorithms)
        except JoseError as exc:
            raise TokenVerificationError(f"the signature does not verify: {exc}") from None
        claims = dict(decoded.claims)
        self._check_claims(claims)
        return claims

    def _check_claims(self, claims: dict[str, Any]) -> None:
        now = time.time()
        exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
        if not isinstance(exp, (int, float)):
            raise TokenVerificationError("the token has no exp")
        if now > exp + self.leeway:
            raise TokenVerificationError("the token has expired")
        if isinstance(nbf, (int, float)) and now < nbf - self.leeway:
            raise TokenVerificationError("the token is not valid yet (nbf)")
        if isinstance(iat, (int, float)) and iat > now + self.leeway:
            raise TokenVerificationError("the token was issued in the future (iat)")
        if self.issuer is not None and claims.get("iss") != self.issuer:
            raise TokenVerificationError(f"the token's issuer {claims.get('iss')!r} is not {self.issuer!r}")
        if self.audiences is not None:
            audience = claims.get("aud")
            given = audience if isinstance(audience, list) else [audience]
            if not set(given) & set(self.audiences):
                raise TokenVerificationError(f"the token's audience {audience!r} is not {self.audiences!r}")


async def verify_result_token(token: str, base_url: str, *, issuer: str | None = None,
                              audience: str | list[str] | None = None) -> dict[str, Any]:
    """One call, one token: fetches the key set for this call only. A backend that verifies many
    tokens keeps a ResultTokenVerifier (or uses ``MfaFlowClient.verify_result_token``), which
    caches the key set."""
    return await ResultTokenVerifier(base_url, issuer=issuer, audience=audience).verify(token)
