"""Signing: result tokens and ID tokens (JWS/JWT), audit checkpoint signatures. No I/O.

Keys live in the database (``store/keys.py``): the public half as a JWK, the private half
as a JWK sealed with ``SecretBox``. The key id is the RFC 7638 thumbprint of the public key.
There is one active key per key type: an RSA key signs ``RS256``, a P-256 key ``ES256``, an
Ed25519 key ``Ed25519`` and ``EdDSA`` (RFC 9864: the same key under the fully specified name
and the deprecated polymorphic one) and the audit's checkpoints and tree heads (C2SP notes
are Ed25519 only).

Default algorithms are the ones every JOSE library verifies (PyJWT, jwcrypto, joserfc, npm
``jose``, and every OIDC client library): ``ES256`` for the result token, ``RS256`` for ID
tokens. PyJWT 2 refuses ``alg: Ed25519`` ("Unable to find an algorithm for key"), so that
one stays a choice, not a default.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey

from .crypto import SecretBox
from .domain.flow import canonical_json

# Key types, and the JWS algorithms each signs. RFC 9864 names the fully specified Ed25519
# algorithm ``Ed25519``; ``EdDSA`` is its deprecated, polymorphic predecessor, still the only
# one some libraries (PyJWT 2) know.
RSA, P256, ED25519 = "RSA", "P-256", "Ed25519"
KEY_TYPE_OF_ALG = {"RS256": RSA, "ES256": P256, "Ed25519": ED25519, "EdDSA": ED25519}
SIGNING_ALGORITHMS = tuple(KEY_TYPE_OF_ALG)
KEY_TYPES = (RSA, P256, ED25519)
ALGORITHMS = ("Ed25519", "EdDSA")  # what audit checkpoints are signed with (older ones: EdDSA)
CHECKPOINT_ALG = "Ed25519"
RESULT_TOKEN_ALG = "ES256"
ID_TOKEN_ALG = "RS256"
RSA_BITS = 2048

SigningJwk = OKPKey | RSAKey | ECKey


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: SigningJwk

    @property
    def public_jwk(self) -> dict[str, Any]:
        return self.private.as_dict(private=False)

    @property
    def key_type(self) -> str:
        return key_type_of_jwk(self.public_jwk)


def key_type_of_jwk(jwk: dict[str, Any]) -> str:
    """RSA, P-256 or Ed25519: which of the service's key types a public JWK is."""
    return RSA if jwk.get("kty") == "RSA" else str(jwk.get("crv"))


def _generated(key_type: str) -> SigningJwk:
    if key_type == RSA:
        return RSAKey.generate_key(RSA_BITS)
    if key_type == P256:
        return ECKey.generate_key(P256)
    if key_type == ED25519:
        return OKPKey.generate_key("Ed25519")
    raise ValueError(f"no key type {key_type!r}; one of {', '.join(KEY_TYPES)}")


def _imported(jwk: dict[str, Any]) -> SigningJwk:
    kinds: dict[str, type[SigningJwk]] = {"RSA": RSAKey, "EC": ECKey, "OKP": OKPKey}
    return kinds[jwk["kty"]].import_key(jwk)


def new_signing_key(key_type: str = ED25519) -> SigningKey:
    key = _generated(key_type)
    kid = key.thumbprint()
    return SigningKey(kid, _imported({**key.as_dict(private=True), "kid": kid}))


def seal(key: SigningKey, box: SecretBox) -> str:
    return box.seal(json.dumps(key.private.as_dict(private=True)))


def unseal(kid: str, sealed: str, box: SecretBox) -> SigningKey:
    return SigningKey(kid, _imported(json.loads(box.open(sealed))))


def published_jwk(public_jwk: dict[str, Any]) -> dict[str, Any]:
    """A JWKS entry: the public key, what it is for and, for RSA and P-256 keys, the one
    algorithm it signs with. An Ed25519 key names none: it signs both ``Ed25519`` and
    ``EdDSA``, and a library that finds a key by its ``alg`` would refuse the other name."""
    entry = {**public_jwk, "use": "sig"}
    alg = {RSA: "RS256", P256: "ES256"}.get(key_type_of_jwk(public_jwk))
    return {**entry, "alg": alg} if alg else entry


def _sign(header: dict[str, Any], payload: bytes, key: SigningKey) -> str:
    with warnings.catch_warnings():  # joserfc warns that EdDSA is deprecated; the operator chose it
        warnings.simplefilter("ignore")
        return jws.serialize_compact(header, payload, key.private, algorithms=[header["alg"]])


@dataclass(frozen=True)
class TokenPolicy:
    issuer: str
    audience: str
    lifetime: int  # seconds
    alg: str = RESULT_TOKEN_ALG


ACR_MFA = "urn:mfa-flow:acr:mfa"
ACR_PWD = "urn:mfa-flow:acr:pwd"
ACR_TRUSTED_DEVICE = "urn:mfa-flow:acr:trusted-device"
TRUSTED_DEVICE = "trusted_device"  # ``mfa_by``: a trusted device stood in for the second factor
# amr values that do not prove a second factor: the first factor, and RFC 8176's summary.
_NOT_A_SECOND_FACTOR = frozenset({"pwd", "mfa"})


def acr_for(amr: list[str], mfa_by: str | None = None, first_factor: tuple[str, ...] = ()) -> str:
    """The authentication context class: ``mfa`` when a second factor was proven in this very
    flow (verified or set up), a trusted device's when a remembered device stood in for it,
    ``pwd`` when only the first factor was (a password, a passkey without user verification
    counted as MFA, or the embedding backend's word). ``first_factor``: the methods of a first
    factor other than a password (a passkey's ``hwk``), which are no second factor either."""
    if any(method not in _NOT_A_SECOND_FACTOR and method not in first_factor for method in amr):
        return ACR_MFA
    return ACR_TRUSTED_DEVICE if mfa_by == TRUSTED_DEVICE else ACR_PWD


def result_claims(policy: TokenPolicy, flow_id: str, user_id: str, amr: list[str], now: datetime,
                  mfa_by: str | None = None, first_factor: tuple[str, ...] = ()) -> dict[str, Any]:
    """The result token's claims; ``mfa_by`` (only ``trusted_device``) says what stood in for
    a second factor that this flow did not prove (``amr`` lists only what it proved)."""
    issued = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": policy.issuer,
        "sub": user_id,
        "aud": policy.audience,
        "iat": issued,
        "exp": int((now + timedelta(seconds=policy.lifetime)).timestamp()),
        "sid": flow_id,
        "amr": list(amr),
        "acr": acr_for(amr, mfa_by, first_factor),
    }
    if mfa_by is not None:
        claims["mfa_by"] = mfa_by
    return claims


def sign_jwt(alg: str, key: SigningKey, claims: dict[str, Any]) -> str:
    """A JWT: a compact JWS whose payload is the claims set."""
    return _sign({"alg": alg, "typ": "JWT", "kid": key.kid}, canonical_json(claims), key)


def sign_result(policy: TokenPolicy, key: SigningKey, claims: dict[str, Any]) -> str:
    """The result token: a JWT signed with the configured algorithm."""
    return sign_jwt(policy.alg, key, claims)


def id_token_claims(*, issuer: str, client_id: str, user_id: str, flow_id: str, nonce: str | None,
                    auth_time: datetime, amr: list[str], acr: str, now: datetime, lifetime: int) -> dict[str, Any]:
    """An OpenID Connect ID token's claims (OIDC Core 2): ``sid`` is the flow, so that an
    auditor can ask for the proof of this very sign-in."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": user_id,
        "aud": client_id,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=lifetime)).timestamp()),
        "auth_time": int(auth_time.timestamp()),
        "amr": list(amr),
        "acr": acr,
        "sid": flow_id,
    }
    if nonce is not None:
        claims["nonce"] = nonce
    return claims


def sign_checkpoint(key: SigningKey, alg: str, fields: dict[str, Any]) -> str:
    """A checkpoint signature: a compact JWS over the canonical JSON of its fields."""
    return _sign({"alg": alg, "kid": key.kid, "typ": "mfa-flow-checkpoint"}, canonical_json(fields), key)


class TokenError(Exception):
    """The root of the tokens' errors: a signature or a token this service does not accept."""


class BadSignature(TokenError):
    """A compact JWS that does not verify with the given keys, or is not one."""


def verify_compact(signature: str, public_jwks: list[dict[str, Any]],
                   algorithms: tuple[str, ...] = ALGORITHMS) -> tuple[dict[str, Any], bytes]:
    """Check a compact JWS against public keys; return its header and payload or raise."""
    try:
        keys = KeySet.import_key_set({"keys": [{k: v for k, v in j.items() if k != "alg"} for j in public_jwks]})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = jws.deserialize_compact(signature, keys, algorithms=list(algorithms))
    except (JoseError, ValueError, KeyError) as exc:
        raise BadSignature(str(exc) or type(exc).__name__) from None
    return obj.headers(), obj.payload



class TokenRefused(TokenError):
    """A subject token that cannot start an account flow; the message says why, in words fit
    for the client (never the token itself)."""

    def __init__(self, detail: str, *, too_old: bool = False) -> None:
        super().__init__(detail)
        self.too_old = too_old


def check_subject_token(token: str, public_jwks: list[dict[str, Any]], policy: TokenPolicy, now: datetime,
                        max_age: int) -> dict[str, Any]:
    """The claims of a result token this service issued (signature by one of its published
    keys, ``typ`` JWT, ``iss`` and ``aud`` its own, not expired) no older than ``max_age``
    seconds by its ``iat``; else ``TokenRefused``."""
    try:
        header, payload = verify_compact(token, public_jwks, SIGNING_ALGORITHMS)
        claims = json.loads(payload)
    except (BadSignature, ValueError):
        raise TokenRefused("the subject token is not a result token signed by this service") from None
    if header.get("typ") != "JWT" or not isinstance(claims, dict):
        raise TokenRefused("the subject token is not a result token signed by this service")
    if claims.get("iss") != policy.issuer or claims.get("aud") != policy.audience:
        raise TokenRefused("the subject token was issued for another issuer or audience")
    sub, iat, exp = claims.get("sub"), _seconds(claims.get("iat")), _seconds(claims.get("exp"))
    if not isinstance(sub, str) or not sub or iat is None or exp is None:
        raise TokenRefused("the subject token lacks sub, iat or exp")
    at = now.timestamp()
    if exp <= at:
        raise TokenRefused("the subject token has expired", too_old=True)
    if iat < at - max_age:
        raise TokenRefused(f"the sign-in behind the subject token is older than {max_age} seconds", too_old=True)
    return claims


def _seconds(value: Any) -> int | None:
    """A NumericDate claim as this service writes it (whole seconds), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def proves_mfa(claims: dict[str, Any]) -> bool:
    """Whether the sign-in behind a result token proved MFA with a factor in its own flow (its
    ``acr``; a trusted device standing in for the factor, ``mfa_by``, does not count)."""
    return claims.get("acr") == ACR_MFA and "mfa_by" not in claims
