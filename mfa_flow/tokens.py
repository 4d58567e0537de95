"""Ed25519 signing: result tokens (JWS/JWT) and audit checkpoint signatures. No I/O.

Keys live in the database (``store/keys.py``): the public half as a JWK, the private half
as a JWK sealed with ``SecretBox``. The key id is the RFC 7638 thumbprint of the public key.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OKPKey

from .crypto import SecretBox
from .domain.flow import canonical_json

# RFC 9864 names the fully specified algorithm ``Ed25519``; ``EdDSA`` is its deprecated,
# polymorphic predecessor, still the only one some libraries (PyJWT 2) know.
ALGORITHMS = ("Ed25519", "EdDSA")


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: OKPKey

    @property
    def public_jwk(self) -> dict[str, Any]:
        return self.private.as_dict(private=False)


def new_signing_key() -> SigningKey:
    key = OKPKey.generate_key("Ed25519")
    kid = key.thumbprint()
    return SigningKey(kid, OKPKey.import_key({**key.as_dict(private=True), "kid": kid}))


def seal(key: SigningKey, box: SecretBox) -> str:
    return box.seal(json.dumps(key.private.as_dict(private=True)))


def unseal(kid: str, sealed: str, box: SecretBox) -> SigningKey:
    return SigningKey(kid, OKPKey.import_key(json.loads(box.open(sealed))))


def published_jwk(public_jwk: dict[str, Any], alg: str) -> dict[str, Any]:
    """A JWKS entry: the public key, what it is for and which algorithm it signs with."""
    return {**public_jwk, "use": "sig", "alg": alg}


def _sign(header: dict[str, Any], payload: bytes, key: SigningKey) -> str:
    with warnings.catch_warnings():  # joserfc warns that EdDSA is deprecated; the operator chose it
        warnings.simplefilter("ignore")
        return jws.serialize_compact(header, payload, key.private, algorithms=[header["alg"]])


@dataclass(frozen=True)
class TokenPolicy:
    issuer: str
    audience: str
    lifetime: int  # seconds
    alg: str = "Ed25519"


ACR_MFA = "urn:mfa-flow:acr:mfa"
ACR_PWD = "urn:mfa-flow:acr:pwd"
ACR_TRUSTED_DEVICE = "urn:mfa-flow:acr:trusted-device"
TRUSTED_DEVICE = "trusted_device"  # ``mfa_by``: a trusted device stood in for the second factor
# amr values that do not prove a second factor: the first factor, and RFC 8176's summary.
_NOT_A_SECOND_FACTOR = frozenset({"pwd", "mfa"})


def acr_for(amr: list[str], mfa_by: str | None = None) -> str:
    """The authentication context class: ``mfa`` when a second factor was proven in this very
    flow (verified or set up), a trusted device's when a remembered device stood in for it,
    ``pwd`` when only the first factor was (a password, or the embedding backend's word)."""
    if any(method not in _NOT_A_SECOND_FACTOR for method in amr):
        return ACR_MFA
    return ACR_TRUSTED_DEVICE if mfa_by == TRUSTED_DEVICE else ACR_PWD


def result_claims(policy: TokenPolicy, flow_id: str, user_id: str, amr: list[str], now: datetime,
                  mfa_by: str | None = None) -> dict[str, Any]:
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
        "acr": acr_for(amr, mfa_by),
    }
    if mfa_by is not None:
        claims["mfa_by"] = mfa_by
    return claims


def sign_result(policy: TokenPolicy, key: SigningKey, claims: dict[str, Any]) -> str:
    """The result token: a compact JWS whose payload is the JWT claims set."""
    header = {"alg": policy.alg, "typ": "JWT", "kid": key.kid}
    return _sign(header, canonical_json(claims), key)


def sign_checkpoint(key: SigningKey, alg: str, fields: dict[str, Any]) -> str:
    """A checkpoint signature: a compact JWS over the canonical JSON of its fields."""
    return _sign({"alg": alg, "kid": key.kid, "typ": "mfa-flow-checkpoint"}, canonical_json(fields), key)


class BadSignature(Exception):
    pass


def verify_compact(signature: str, public_jwks: list[dict[str, Any]]) -> tuple[dict[str, Any], bytes]:
    """Check a compact JWS against public keys; return its header and payload or raise."""
    try:
        keys = KeySet.import_key_set({"keys": [{k: v for k, v in j.items() if k != "alg"} for j in public_jwks]})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = jws.deserialize_compact(signature, keys, algorithms=list(ALGORITHMS))
    except (JoseError, ValueError, KeyError) as exc:
        raise BadSignature(str(exc) or type(exc).__name__) from None
    return obj.headers(), obj.payload



class TokenRefused(Exception):
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
        header, payload = verify_compact(token, public_jwks)
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
