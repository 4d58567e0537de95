"""What both WebAuthn ceremonies share: descriptors, the offered options, what an answer must match.

Passkeys and security keys (WebAuthn), with py_webauthn doing the ceremony checks.

py_webauthn verifies signatures, origin, RP ID, challenge and flags. What it leaves to the
relying party is done here: the credential must belong to this flow's user (credential id
and user handle), credential ids are unique across users, a challenge is spent by any
answer to it (a failed attempt gets a fresh one), and the new sign count is stored with a
compare-and-set in the flow's transaction.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from webauthn import options_to_json
from webauthn.helpers import base64url_to_bytes
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import AuthenticatorTransport, PublicKeyCredentialDescriptor

from ... import logs
from ...domain.errors import WrongAddress
from ..base import LockedFlow

log = logs.get(__name__)

TIMEOUT_MS = 5 * 60 * 1000
ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]
TRANSPORTS = {t.value for t in AuthenticatorTransport}
# What py_webauthn raises for a response that does not hold (malformed input included).
REFUSED = (WebAuthnException, ValueError, TypeError, KeyError)


def descriptor(credential_id: bytes, transports: list[str]) -> PublicKeyCredentialDescriptor:
    known = [AuthenticatorTransport(t) for t in transports if t in TRANSPORTS]
    return PublicKeyCredentialDescriptor(id=credential_id, transports=known or None)


def credential_id_of(credential: dict[str, Any]) -> bytes | None:
    raw = credential.get("rawId") or credential.get("id")
    if not isinstance(raw, str):
        return None
    try:
        return base64url_to_bytes(raw)
    except (ValueError, TypeError):
        return None


def response_of(credential: dict[str, Any]) -> dict[str, Any]:
    response = credential.get("response")
    return response if isinstance(response, dict) else {}


def refusal(exc: Exception) -> str:
    """py_webauthn's own words, which say precisely what did not hold."""
    return f"the passkey's answer was refused: {exc}"


def answered_at(credential: dict[str, Any]) -> str:
    """The origin the browser wrote into the answer's client data (it signs it), or "?"."""
    try:
        client_data = json.loads(base64url_to_bytes(response_of(credential)["clientDataJSON"]))
        origin = client_data["origin"]
    except (KeyError, TypeError, ValueError):
        return "?"
    return origin if isinstance(origin, str) else "?"


def refuse_other_address(ctx: LockedFlow, credential: dict[str, Any], exc: Exception) -> None:
    """An answer made at an origin, or for an RP ID, that the settings do not name is no wrong
    proof: the page was opened at an address the service is not set up for (MFA_FLOW_ORIGIN,
    MFA_FLOW_RP_ID). Raise ``WrongAddress`` (no attempt counted, nothing written), and say in the
    log and to the page which setting to change."""
    words = str(exc)
    origins = list(ctx.settings.origins)
    if words.startswith("Unexpected client data origin"):
        origin = answered_at(credential)
        log.warning("passkey refused: the page's origin is not in MFA_FLOW_ORIGIN", origin=origin, expected=origins,
                    setting="MFA_FLOW_ORIGIN", flow_id=ctx.flow.id)
        raise WrongAddress(
            f"this page is at {origin}, but passkeys are accepted only at {', '.join(origins)}: open the page there,"
            f" or add {origin} to the service's MFA_FLOW_ORIGIN setting (no attempt was counted)",
            setting="MFA_FLOW_ORIGIN", origin=origin, expected=origins)
    if words == "Unexpected RP ID hash":
        log.warning("passkey refused: made for another RP ID than MFA_FLOW_RP_ID", rp_id=ctx.settings.rp_id,
                    setting="MFA_FLOW_RP_ID", flow_id=ctx.flow.id)
        raise WrongAddress(
            f"this passkey was made for another RP ID than the service's ({ctx.settings.rp_id}): set the service's"
            f" MFA_FLOW_RP_ID to the host name of the page's address (no attempt was counted)",
            setting="MFA_FLOW_RP_ID", rp_id=ctx.settings.rp_id)


def default_name(now: datetime) -> str:
    return f"Passkey added {now:%Y-%m-%d}"


def offer(ctx: LockedFlow, options: Any) -> None:
    """Keep the options the client is shown, and the challenge its answer must carry."""
    public_key = json.loads(options_to_json(options))
    ctx.flow.stage["publicKey"] = public_key
    ctx.flow.stage["challenge"] = public_key["challenge"]


def expected(ctx: LockedFlow) -> dict[str, Any]:
    """What both ceremonies must match: the challenge this flow issued, our RP ID and origins."""
    return {
        "expected_challenge": base64url_to_bytes(ctx.flow.stage["challenge"]),
        "expected_rp_id": ctx.settings.rp_id,
        "expected_origin": list(ctx.settings.origins),
    }
