"""The discovery document (OpenID Connect Discovery 1.0 §3, RFC 8414, RFC 9126 §5, RFC 9207). Pure."""

from __future__ import annotations

from typing import Any

from .clients import AUTH_METHODS, ID_TOKEN_ALGS
from .requests import ACR_VALUES

AUTHORIZE, TOKEN, PAR, USERINFO, JWKS = "/oidc/authorize", "/oidc/token", "/oidc/par", "/oidc/userinfo", \
    "/.well-known/jwks.json"
CLAIMS = ("iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "acr", "sid")


def document(issuer: str, ui_locales: tuple[str, ...]) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "authorization_endpoint": issuer + AUTHORIZE,
        "token_endpoint": issuer + TOKEN,
        "pushed_authorization_request_endpoint": issuer + PAR,
        "userinfo_endpoint": issuer + USERINFO,
        "jwks_uri": issuer + JWKS,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256", "EdDSA"],
        "id_token_signing_alg_values_supported": list(ID_TOKEN_ALGS),
        "subject_types_supported": ["public"],
        "scopes_supported": ["openid"],
        "claims_supported": list(CLAIMS),
        "acr_values_supported": list(ACR_VALUES),
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "authorization_response_iss_parameter_supported": True,
        "ui_locales_supported": list(ui_locales),
        "require_pushed_authorization_requests": False,
        "request_parameter_supported": False,
        "claims_parameter_supported": False,
    }


def endpoint_audiences(issuer: str) -> tuple[str, ...]:
    """What a client assertion's ``aud`` may name: the issuer (the current drafts' advice) or
    the endpoint it is sent to (RFC 7523's)."""
    return (issuer, issuer + TOKEN, issuer + PAR)
