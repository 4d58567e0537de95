"""Authorizations, their codes and what a code is exchanged for (RFC 6749 §4.1.2-4.1.4,
RFC 7636 §4.6, RFC 9207, OIDC Core §3.1.3). Pure.

An authorization is one flow started for one client's request. When the flow has ended, the
browser is sent back: with a code when it ended ``done`` and met the request, else with an
error. A code lives ``CODE_TTL`` seconds, is bound to the client, the redirect URI and the
PKCE challenge, and is used once: a second use is refused and revokes the access token the
first one issued (RFC 6749 §4.1.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from .errors import OAuthError, invalid_grant, invalid_request
from .requests import AuthorizationRequest, verifier_matches

CODE_TTL = 60  # seconds
PUSHED_REQUEST_TTL = 60  # seconds
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"


@dataclass
class Authorization:
    flow_id: str
    client_id: str
    request: AuthorizationRequest
    created_at: datetime
    returned_at: datetime | None = None
    code_expires_at: datetime | None = None
    code_used_at: datetime | None = None
    access_token_expires_at: datetime | None = None
    revoked_at: datetime | None = None


class CodeReplayed(OAuthError):
    """A code used a second time: refused, and what its first use issued is revoked."""

    def __init__(self) -> None:
        super().__init__("invalid_grant", "the code was used already; the tokens it was exchanged for are revoked")


def redirect(request: AuthorizationRequest, issuer: str, **answer: str | None) -> str:
    """The redirect URI with the answer's parameters, ``state`` and ``iss`` (RFC 9207) added
    to its query (it may have a query of its own, which is kept)."""
    params = {k: v for k, v in answer.items() if v is not None}
    if request.state is not None:
        params["state"] = request.state
    params["iss"] = issuer
    parts = urlsplit(request.redirect_uri)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def error_redirect(redirect_uri: str, state: str | None, issuer: str, error: OAuthError) -> str:
    """An error sent back to a redirect URI that is known good (RFC 6749 §4.1.2.1)."""
    placeholder = AuthorizationRequest(client_id="", redirect_uri=redirect_uri, code_challenge="", state=state)
    return redirect(placeholder, issuer, error=error.error, error_description=error.description)


def check_exchange(authorization: Authorization | None, client_id: str, form: Mapping[str, Any],
                   now: datetime) -> Authorization:
    """The authorization whose code ``form`` presents, if the code may be exchanged now by
    ``client_id`` with that redirect URI and PKCE verifier; else an ``OAuthError`` (a
    ``CodeReplayed`` for a second use)."""
    if authorization is None or authorization.code_expires_at is None:
        raise invalid_grant("the code is not valid")
    if authorization.client_id != client_id:
        raise invalid_grant("the code was issued to another client")
    if authorization.code_used_at is not None:
        raise CodeReplayed()
    if now >= authorization.code_expires_at:
        raise invalid_grant(f"the code has expired (a code lives {CODE_TTL} seconds)")
    redirect_uri, verifier = form.get("redirect_uri"), form.get("code_verifier")
    if not redirect_uri:
        raise invalid_request("redirect_uri is required: the one the authorization request named")
    if redirect_uri != authorization.request.redirect_uri:
        raise invalid_grant("redirect_uri is not the one the authorization request named")
    if not verifier:
        raise invalid_request("code_verifier is required (PKCE)")
    if not verifier_matches(verifier, authorization.request.code_challenge):
        raise invalid_grant("code_verifier does not match the code_challenge of the authorization request")
    return authorization
