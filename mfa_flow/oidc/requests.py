"""Authorization requests (RFC 6749 §4.1.1, RFC 7636, RFC 9126, OIDC Core §3.1.2.1): what
one must be, checked in the order the specifications ask for. Pure.

The client and its redirect URI are checked first: until both hold, nothing may go back to
the redirect URI (an error page instead). Every later refusal goes back to it, with ``state``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from base64 import urlsafe_b64encode
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..tokens import ACR_MFA, ACR_PWD, ACR_TRUSTED_DEVICE
from .clients import ASSERTING, Client
from .errors import OAuthError, invalid_request, page_error

# The authentication context classes, weakest first: a result at or above the weakest one
# asked for meets the request.
ACR_VALUES = (ACR_PWD, ACR_TRUSTED_DEVICE, ACR_MFA)
_LEVEL = {acr: level for level, acr in enumerate(ACR_VALUES)}
PROMPTS = ("none", "login", "consent", "select_account")
MAX_PARAMETER_LENGTH = 512
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url of a SHA-256 digest, unpadded (RFC 7636 §4.2)
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636 §4.1
_LOCALES = re.compile(r"[A-Za-z0-9-]{1,35}( [A-Za-z0-9-]{1,35}){0,9}")
# What a request may name besides the parameters read below (all ignored: display and the
# like change nothing here). ``request`` (a request object, RFC 9101) is refused.
PARAMETERS = ("response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge",
              "code_challenge_method", "login_hint", "acr_values", "max_age", "prompt", "ui_locales",
              "response_mode")


@dataclass(frozen=True)
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    code_challenge: str
    state: str | None = None
    nonce: str | None = None
    login_hint: str | None = None
    acr_values: tuple[str, ...] = ()
    max_age: int | None = None
    prompt: tuple[str, ...] = ()
    ui_locales: str | None = None

    @property
    def step_up(self) -> bool:
        """A second factor now, whatever the policy, the user's opt-out or a trusted device:
        ``max_age=0`` or ``prompt=login`` (authenticate afresh), or only ``…:mfa`` will do."""
        return self.max_age == 0 or "login" in self.prompt or self.required_acr == ACR_MFA

    @property
    def required_acr(self) -> str | None:
        """The weakest of the requested acr values: what the result must at least meet."""
        return min(self.acr_values, key=_LEVEL.__getitem__) if self.acr_values else None

    def met_by(self, acr: str) -> bool:
        required = self.required_acr
        return required is None or _LEVEL.get(acr, -1) >= _LEVEL[required]

    def to_json(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "AuthorizationRequest":
        fields: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items()}
        return cls(**fields)


def single(params: Mapping[str, Any], name: str) -> str | None:
    """A parameter sent at most once (RFC 6749 §3.1); an empty value counts as absent."""
    values = params.getall(name, []) if hasattr(params, "getall") else ([params[name]] if name in params else [])
    if len(values) > 1:
        raise invalid_request(f"{name} was sent more than once")
    value = values[0] if values else None
    if value is not None and not isinstance(value, str):
        raise invalid_request(f"{name} must be text")
    if value is not None and len(value) > MAX_PARAMETER_LENGTH:
        raise invalid_request(f"{name} is longer than {MAX_PARAMETER_LENGTH} characters")
    if value is not None and "\x00" in value:
        raise invalid_request(f"{name} must not contain a NUL character")
    return value or None


def single_or_page_error(params: Mapping[str, Any], name: str) -> str | None:
    """``single``, for a parameter checked before the redirect URI is known good."""
    try:
        return single(params, name)
    except OAuthError as error:
        raise page_error(error.description) from None


def redirect_target(params: Mapping[str, Any], client: Client) -> str:
    """The redirect URI, exactly as registered (no prefix, no pattern), or an error page."""
    uri = single_or_page_error(params, "redirect_uri")
    if uri is None:
        raise page_error("redirect_uri is required")
    if uri not in client.redirect_uris:
        raise page_error("redirect_uri is not one of the client's registered redirect URIs (compared exactly)")
    return uri


def parse(params: Mapping[str, Any], client: Client, redirect_uri: str, *, pushed: bool) -> AuthorizationRequest:
    """The authorization request of ``client`` (already found, with ``redirect_uri`` already
    matched); ``pushed`` when it came through PAR with the client's authentication."""
    if single(params, "request") is not None:
        raise OAuthError("request_not_supported", "request objects (the request parameter) are not supported;"
                         " push the parameters instead (PAR)")
    if pushed and single(params, "request_uri") is not None:
        raise invalid_request("a pushed request cannot itself name a request_uri")
    response_type = single(params, "response_type")
    if response_type != "code":
        raise OAuthError("unsupported_response_type", "response_type must be code (the authorization code flow)")
    mode = single(params, "response_mode")
    if mode not in (None, "query"):
        raise invalid_request("response_mode must be query (the default)")
    scope = (single(params, "scope") or "").split()
    if "openid" not in scope:
        raise OAuthError("invalid_scope", "scope must contain openid")
    method, challenge = single(params, "code_challenge_method"), single(params, "code_challenge")
    if challenge is None:
        raise invalid_request("code_challenge is required: PKCE with S256 (RFC 7636)")
    if method != "S256":
        raise invalid_request("code_challenge_method must be S256 (plain is not accepted)")
    if not _CHALLENGE.fullmatch(challenge):
        raise invalid_request("code_challenge must be the unpadded base64url SHA-256 of the verifier (43 characters)")
    login_hint = single(params, "login_hint")
    if login_hint is not None and client.kind != ASSERTING:
        raise invalid_request("login_hint is accepted only from a client registered as asserting (it says the"
                              " app has checked the user's first factor)")
    if login_hint is not None and not pushed:
        raise invalid_request("login_hint is accepted only in a pushed authorization request (PAR), which the"
                              " client authenticates")
    if client.kind == ASSERTING and login_hint is None:
        raise invalid_request("an asserting client pushes its request (PAR) with login_hint naming the user"
                              " whose first factor it checked")
    prompt = tuple(dict.fromkeys((single(params, "prompt") or "").split()))
    if any(p not in PROMPTS for p in prompt):
        raise invalid_request(f"prompt must be made of {', '.join(PROMPTS)}")
    if "none" in prompt and len(prompt) > 1:
        raise invalid_request("prompt=none cannot be combined with other values")
    acr_values = tuple(dict.fromkeys((single(params, "acr_values") or "").split()))
    unknown = [a for a in acr_values if a not in _LEVEL]
    if unknown:
        raise OAuthError("unmet_authentication_requirements",
                         f"acr_values {' '.join(unknown)!r} are not offered; offered: {' '.join(ACR_VALUES)}")
    locales = single(params, "ui_locales")
    if locales is not None and not _LOCALES.fullmatch(locales):
        raise invalid_request("ui_locales must be space-separated language tags such as 'de fr-CA'")
    request = AuthorizationRequest(
        client_id=client.id,
        redirect_uri=redirect_uri,
        code_challenge=challenge,
        state=single(params, "state"),
        nonce=single(params, "nonce"),
        login_hint=login_hint,
        acr_values=acr_values,
        max_age=_max_age(single(params, "max_age")),
        prompt=prompt,
        ui_locales=locales,
    )
    if "none" in prompt:
        # Every authorization is a sign-in of its own: there is no session to answer silently from.
        raise OAuthError("login_required", "prompt=none cannot be met: every authorization here is a sign-in")
    return request


def _max_age(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 10:
        raise invalid_request("max_age must be a whole number of seconds, 0 or more")
    return int(raw)


def s256(verifier: str) -> str:
    """The S256 code challenge of a verifier (RFC 7636 §4.2)."""
    return urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def verifier_matches(verifier: str, challenge: str) -> bool:
    """Whether ``verifier`` is a well-formed PKCE verifier whose S256 challenge is ``challenge``."""
    return bool(_VERIFIER.fullmatch(verifier)) and hmac.compare_digest(s256(verifier), challenge)
