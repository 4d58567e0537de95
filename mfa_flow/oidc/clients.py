"""Registered clients: what a registration must hold, and how a client's secret is kept. Pure.

A secret carries 256 random bits, so one SHA-256 of it is all that is stored (as for flow
tokens): it is shown once, at creation or rotation. A rotation keeps the previous digest
until ``previous_secret_expires_at`` so that the app's running instances can be moved over.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ..crypto import new_token, token_digest
from ..domain.errors import InvalidInput
from ..domain.flow import iso

ASSERTING, SIGN_IN = "asserting", "sign_in"
KINDS = (ASSERTING, SIGN_IN)
SECRET_BASIC, SECRET_POST, PRIVATE_KEY_JWT = "client_secret_basic", "client_secret_post", "private_key_jwt"
AUTH_METHODS = (SECRET_BASIC, SECRET_POST, PRIVATE_KEY_JWT)
SECRET_METHODS = (SECRET_BASIC, SECRET_POST)
ID_TOKEN_ALGS = ("RS256", "ES256", "EdDSA")  # RS256 first: every OIDC library accepts it
MAX_REDIRECT_URIS = 20
MAX_URI_LENGTH = 2000
MAX_NAME_LENGTH = 200
# JWK members that only a private key has: a client registers its public keys only.
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_LOOPBACK_NAMES = ("localhost",)


@dataclass
class Client:
    id: str
    name: str
    kind: str
    redirect_uris: list[str]
    token_endpoint_auth_method: str
    id_token_signed_response_alg: str
    jwks: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    secret_digest: bytes | None = field(default=None, repr=False)
    previous_secret_digest: bytes | None = field(default=None, repr=False)
    previous_secret_expires_at: datetime | None = None

    @property
    def uses_secret(self) -> bool:
        return self.token_endpoint_auth_method in SECRET_METHODS

    def secret_matches(self, secret: str, now: datetime) -> bool:
        """The current secret, or the previous one while its overlap lasts."""
        digest = token_digest(secret)
        if self.secret_digest is not None and hmac.compare_digest(digest, self.secret_digest):
            return True
        return (
            self.previous_secret_digest is not None
            and self.previous_secret_expires_at is not None
            and now < self.previous_secret_expires_at
            and hmac.compare_digest(digest, self.previous_secret_digest)
        )

    def as_json(self, now: datetime) -> dict[str, Any]:
        """The client as the Management API shows it: never a secret nor its digest."""
        shown: dict[str, Any] = {
            "client_id": self.id,
            "name": self.name,
            "kind": self.kind,
            "redirect_uris": list(self.redirect_uris),
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "id_token_signed_response_alg": self.id_token_signed_response_alg,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }
        if self.jwks is not None:
            shown["jwks"] = self.jwks
        overlap = self.previous_secret_expires_at
        shown["previous_secret_expires_at"] = iso(overlap) if overlap is not None and overlap > now else None
        return shown


def new_client_id() -> str:
    return new_token("cl")[:27]  # "cl_" and 24 characters (144 bits): an identifier, not a secret


def new_secret() -> str:
    return new_token("cs")


def checked_redirect_uri(uri: object, where: str) -> str:
    """An absolute https URI, or http on a loopback host (RFC 8252 §7.3; OAuth security BCP
    §2.1: redirect URIs compared as whole strings, so none with a fragment)."""
    if not isinstance(uri, str) or not uri or len(uri) > MAX_URI_LENGTH:
        raise InvalidInput(f"{where} must be an absolute URI of at most {MAX_URI_LENGTH} characters", field=where)
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
    except ValueError:
        raise InvalidInput(f"{where} is not a URI: {uri[:80]!r}", field=where) from None
    if parts.scheme not in ("https", "http") or not host:
        raise InvalidInput(f"{where} must be an absolute https URI (http only on localhost), not {uri[:80]!r}",
                           field=where)
    if parts.fragment or "#" in uri:
        raise InvalidInput(f"{where} must not have a fragment (#...)", field=where)
    if parts.scheme == "http" and not _loopback(host):
        raise InvalidInput(f"{where} must use https; plain http is allowed only on localhost, 127.0.0.1 or [::1]",
                           field=where)
    return uri


def _loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def checked_jwks(jwks: object, where: str = "jwks") -> dict[str, Any]:
    """A JWK Set of the client's public signing keys (for ``private_key_jwt``)."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise InvalidInput(f'{where} must be a JWK Set: {{"keys": [at least one public key]}}', field=where)
    for index, key in enumerate(jwks["keys"]):
        if not isinstance(key, dict):
            raise InvalidInput(f"{where}.keys[{index}] must be a JWK object", field=where)
        if key.get("kty") not in ("RSA", "EC", "OKP"):
            raise InvalidInput(f"{where}.keys[{index}].kty must be RSA, EC or OKP (a signing key)", field=where)
        if any(member in key for member in _PRIVATE_MEMBERS):
            raise InvalidInput(f"{where}.keys[{index}] holds a private key: register the public half only",
                               field=where)
    try:
        KeySet.import_key_set(jwks)  # type: ignore[arg-type]  # checked to be a JWK Set just above
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"{where} does not hold valid keys ({exc or type(exc).__name__})", field=where) from None
    return jwks


def _nul_in(value: Any) -> bool:
    """Whether a NUL character hides anywhere in a JSON value (PostgreSQL's text and jsonb cannot hold one)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_nul_in(k) or _nul_in(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_nul_in(v) for v in value)
    return False


def checked_registration(body: dict[str, Any], current: Client | None = None) -> dict[str, Any]:
    """The fields of a registration (``current`` None) or of a change to ``current`` (only the
    fields sent), checked together; the JSON schema has checked their types already."""
    for name, value in body.items():
        if _nul_in(value):
            raise InvalidInput(f"{name} must not contain a NUL character", field=name)
    changes: dict[str, Any] = {}
    if "name" in body:
        name = str(body["name"]).strip()
        if not name or len(name) > MAX_NAME_LENGTH:
            raise InvalidInput(f"name must be 1 to {MAX_NAME_LENGTH} characters", field="name")
        changes["name"] = name
    if "redirect_uris" in body:
        uris = body["redirect_uris"]
        if not isinstance(uris, list) or not uris or len(uris) > MAX_REDIRECT_URIS:
            raise InvalidInput(f"redirect_uris must list 1 to {MAX_REDIRECT_URIS} URIs", field="redirect_uris")
        changes["redirect_uris"] = list(dict.fromkeys(
            checked_redirect_uri(uri, f"redirect_uris[{i}]") for i, uri in enumerate(uris)))
    for name, allowed in (("kind", KINDS), ("token_endpoint_auth_method", AUTH_METHODS),
                          ("id_token_signed_response_alg", ID_TOKEN_ALGS)):
        if name in body:
            if body[name] not in allowed:
                raise InvalidInput(f"{name} must be one of {', '.join(allowed)}", field=name)
            changes[name] = body[name]
    if "jwks" in body:
        changes["jwks"] = None if body["jwks"] is None else checked_jwks(body["jwks"])
    if current is None:
        for required in ("name", "redirect_uris", "kind"):
            if required not in changes:
                raise InvalidInput(f"{required} is required", field=required)
        changes.setdefault("token_endpoint_auth_method", SECRET_BASIC)
        changes.setdefault("id_token_signed_response_alg", ID_TOKEN_ALGS[0])
        changes.setdefault("jwks", None)
    method = changes.get("token_endpoint_auth_method", current.token_endpoint_auth_method if current else None)
    jwks = changes["jwks"] if "jwks" in changes else (current.jwks if current else None)
    if method == PRIVATE_KEY_JWT and jwks is None:
        raise InvalidInput("private_key_jwt needs jwks: the public keys the client signs its assertions with",
                           field="jwks")
    return changes
