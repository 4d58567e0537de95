"""Client authentication at the token and PAR endpoints (RFC 6749 §2.3.1, OIDC Core §9,
RFC 7523 §3): which method a request used, and the checks of a ``private_key_jwt``
assertion. Pure; the secret and the replay of an assertion's ``jti`` are checked by the
service against what it stores."""

from __future__ import annotations

import base64
import binascii
import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .clients import PRIVATE_KEY_JWT, SECRET_BASIC, SECRET_POST, Client
from .errors import invalid_client, invalid_request

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA", "Ed25519"]
MAX_ASSERTION_LIFETIME = 3600  # seconds an assertion may still be valid for when it arrives (authlib signs for an hour)
CLOCK_SKEW = 60


@dataclass(frozen=True)
class Credentials:
    """What a request presented: the method, the client id it names, and its proof."""

    method: str
    client_id: str
    secret: str | None = None
    assertion: str | None = None


def presented(authorization: str | None, form: Mapping[str, str]) -> Credentials:
    """The one client authentication a request carries (RFC 6749 §2.3: never two at once)."""
    credentials = _presented(authorization, form)
    if "\x00" in credentials.client_id:
        raise invalid_client("no such client")  # no id with a NUL names anything here
    return credentials


def _presented(authorization: str | None, form: Mapping[str, str]) -> Credentials:
    secret, assertion = form.get("client_secret"), form.get("client_assertion")
    given = [name for name, present in (("HTTP Basic", authorization), ("client_secret", secret),
                                        ("client_assertion", assertion)) if present]
    if len(given) > 1:
        raise invalid_request(f"one client authentication per request, not {' and '.join(given)}")
    if authorization:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            raise invalid_client("the Authorization header must be Basic (client_secret_basic)")
        try:
            client_id, colon, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise invalid_client("the Basic credentials are not base64 of client_id:client_secret") from None
        if not colon or not client_id:
            raise invalid_client("the Basic credentials are not base64 of client_id:client_secret")
        # RFC 6749 §2.3.1: both halves are form-urlencoded before they are joined.
        return Credentials(SECRET_BASIC, unquote_plus(client_id), secret=unquote_plus(password))
    if assertion:
        if form.get("client_assertion_type") != JWT_BEARER:
            raise invalid_client(f"client_assertion_type must be {JWT_BEARER}")
        return Credentials(PRIVATE_KEY_JWT, form.get("client_id") or _issuer_of(assertion), assertion=assertion)
    if secret is not None:
        if not form.get("client_id"):
            raise invalid_client("client_secret comes with client_id")
        return Credentials(SECRET_POST, form["client_id"], secret=secret)
    raise invalid_client("the client must authenticate (client_secret_basic, client_secret_post or private_key_jwt)")


def _issuer_of(assertion: str) -> str:
    """The assertion's ``iss`` before it is checked: only to find the client whose keys check it."""
    try:
        payload = assertion.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return str(claims["iss"])
    except (IndexError, ValueError, KeyError, TypeError, binascii.Error):
        raise invalid_client("client_assertion is not a JWT naming its client in iss") from None


def checked_assertion(client: Client, assertion: str, audiences: tuple[str, ...], now: datetime) -> tuple[str, datetime]:
    """The ``jti`` and expiry of a ``private_key_jwt`` assertion of ``client``: signed by one of
    its registered keys, ``iss`` and ``sub`` its id, ``aud`` this provider (its issuer or the
    endpoint called), not expired and not valid for long. Else ``invalid_client``."""
    if client.jwks is None:
        raise invalid_client("the client has no registered keys to check its assertion with")
    try:
        with warnings.catch_warnings():  # joserfc warns that EdDSA is deprecated; the client chose it
            warnings.simplefilter("ignore")
            keys = KeySet.import_key_set(client.jwks)  # type: ignore[arg-type]  # checked at registration
            claims: dict[str, Any] = dict(jwt.decode(assertion, keys, algorithms=ASSERTION_ALGORITHMS).claims)
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise invalid_client(f"client_assertion does not verify with the client's registered keys"
                             f" ({type(exc).__name__})") from None
    if claims.get("iss") != client.id or claims.get("sub") != client.id:
        raise invalid_client("client_assertion's iss and sub must both be the client_id")
    audience = claims.get("aud")
    named = audience if isinstance(audience, list) else [audience]
    if not any(a in audiences for a in named):
        raise invalid_client(f"client_assertion's aud must name this provider ({audiences[0]}) or the endpoint")
    at = now.timestamp()
    exp, jti = claims.get("exp"), claims.get("jti")
    if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= at - CLOCK_SKEW:
        raise invalid_client("client_assertion has no exp, or has expired")
    if exp > at + MAX_ASSERTION_LIFETIME:
        raise invalid_client(f"client_assertion must expire within {MAX_ASSERTION_LIFETIME} seconds")
    nbf = claims.get("nbf")
    if isinstance(nbf, int | float) and nbf > at + CLOCK_SKEW:
        raise invalid_client("client_assertion is not valid yet (nbf)")
    if not isinstance(jti, str) or not jti or len(jti) > 200:
        raise invalid_client("client_assertion needs a jti (a unique id, used once)")
    return jti, datetime.fromtimestamp(exp, now.tzinfo)


def authenticated(client: Client | None, credentials: Credentials, now: datetime) -> Client:
    """The client, when the method is the one it registered and (for a secret) the secret is
    right; ``private_key_jwt`` is finished by the service (``checked_assertion`` and the jti)."""
    if client is None:
        raise invalid_client("no such client")
    if credentials.method != client.token_endpoint_auth_method:
        raise invalid_client(f"this client authenticates with {client.token_endpoint_auth_method},"
                             f" not {credentials.method}")
    if credentials.secret is not None and not client.secret_matches(credentials.secret, now):
        raise invalid_client("the client secret is not right")
    return client

