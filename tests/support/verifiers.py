"""JWTs verified as relying parties verify them: with four JOSE libraries that mfa-flow does not
sign with (joserfc signs; it verifies here through its own public API only), each given the
published JWKS and nothing else. Each returns the verified claims or raises."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Callable

import jwt as pyjwt
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import KeySet
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jwt as jwcrypto_jwt

NODE = Path(__file__).resolve().parent / "node"
Verifier = Callable[[str, dict[str, Any], str, str, list[str]], dict[str, Any]]


def with_pyjwt(token: str, jwks: dict[str, Any], issuer: str, audience: str, algorithms: list[str]) -> dict[str, Any]:
    kid = pyjwt.get_unverified_header(token)["kid"]
    key = pyjwt.PyJWKSet.from_dict(jwks)[kid]
    return pyjwt.decode(token, key, algorithms=algorithms, issuer=issuer, audience=audience,
                        options={"require": ["exp", "iat", "iss", "aud", "sub"]})


def with_jwcrypto(token: str, jwks: dict[str, Any], issuer: str, audience: str, algorithms: list[str]) -> dict[str, Any]:
    keys = jwcrypto_jwk.JWKSet.from_json(json.dumps(jwks))
    checked = jwcrypto_jwt.JWT(jwt=token, key=keys, algs=algorithms,
                               check_claims={"iss": issuer, "aud": audience, "exp": None})
    return json.loads(checked.claims)


def with_joserfc(token: str, jwks: dict[str, Any], issuer: str, audience: str, algorithms: list[str]) -> dict[str, Any]:
    decoded = joserfc_jwt.decode(token, KeySet.import_key_set(jwks), algorithms=algorithms)
    joserfc_jwt.JWTClaimsRegistry(iss={"essential": True, "value": issuer},
                                  aud={"essential": True, "value": audience},
                                  exp={"essential": True}).validate(decoded.claims)
    return dict(decoded.claims)


def with_node_jose(token: str, jwks: dict[str, Any], issuer: str, audience: str, algorithms: list[str]) -> dict[str, Any]:
    request = json.dumps({"token": token, "jwks": jwks, "issuer": issuer, "audience": audience,
                          "algorithms": algorithms})
    run = subprocess.run(["node", str(NODE / "verify-jwt.mjs")], input=request, capture_output=True, text=True,
                         timeout=60)
    if run.returncode != 0:
        raise ValueError(f"npm jose refused the token: {run.stderr.strip()}")
    return json.loads(run.stdout)["claims"]


LIBRARIES: dict[str, Verifier] = {
    "PyJWT": with_pyjwt,
    "jwcrypto": with_jwcrypto,
    "joserfc": with_joserfc,
    "npm jose": with_node_jose,
}
