"""Signing in with a passkey as the first factor (passkey sign-in, issue 27).

A new sign-in flow offers a discoverable-credential assertion (no ``allowCredentials``: the
browser's autofill or account chooser picks the passkey); the answer names its user by the
user handle. The checks are the second factor's (py_webauthn: signature, origin, RP ID hash,
challenge, user verification as configured; here: the credential is known and belongs to the
user its handle names, and its sign count moves on by a compare-and-set in the flow's
transaction). Any answer spends the challenge: a refused one gets a fresh one.
"""

from __future__ import annotations

import json
from typing import Any

from webauthn import generate_authentication_options, options_to_json, verify_authentication_response
from webauthn.helpers.structs import UserVerificationRequirement

from ...domain.errors import UserLocked
from ...domain.passkey_sign_in import REQUIRED, PasskeySignIn
from ..base import JsonObject, LockedFlow, SignIn
from .ceremonies import REFUSED, TIMEOUT_MS, credential_id_of, expected, refusal, refuse_other_address, response_of

STAGE_KEY = "passkey"  # in ``first_factor``'s stage: the request options shown to the client


def offer(ctx: LockedFlow, setting: PasskeySignIn) -> None:
    options = generate_authentication_options(
        rp_id=ctx.settings.rp_id,
        timeout=TIMEOUT_MS,
        allow_credentials=[],  # discoverable: the authenticator says whose passkey it is
        user_verification=UserVerificationRequirement(setting.user_verification),
    )
    public_key = json.loads(options_to_json(options))
    ctx.flow.stage[STAGE_KEY] = public_key
    ctx.flow.stage["challenge"] = public_key["challenge"]


def offered(stage: dict[str, Any]) -> dict[str, Any] | None:
    """The options a flow in ``first_factor`` offers (None: passkey sign-in was off at its start)."""
    options = stage.get(STAGE_KEY)
    return options if isinstance(options, dict) else None


async def finish(ctx: LockedFlow, credential: JsonObject, setting: PasskeySignIn) -> SignIn:
    outcome = await _check(ctx, credential, setting)
    offer(ctx, setting)  # the challenge is spent either way (a done flow's stage is wiped)
    return outcome


async def _check(ctx: LockedFlow, credential: JsonObject, setting: PasskeySignIn) -> SignIn:
    credential_id = credential_id_of(credential)
    if credential_id is None:
        return SignIn(False, reason="the credential has no valid rawId (base64url)")
    stored = await ctx.uow.webauthn.by_credential_id(credential_id)
    if stored is None:
        return SignIn(False, reason="this passkey is not registered here (unknown credential)",
                      facts={"unknown_credential": True})
    user = await ctx.uow.users.get(stored.user_id, lock=True)
    if user is None:
        return SignIn(False, reason="this passkey is not registered here (unknown credential)",
                      facts={"unknown_credential": True})
    if user.locked_at(ctx.now):  # locked: 429 whatever the passkey, as for a password
        raise UserLocked(user.retry_after(ctx.now))
    facts: dict[str, Any] = {"verification_id": stored.verification_id}
    raw_handle = response_of(credential).get("userHandle")
    handle = credential_id_of({"id": raw_handle}) if isinstance(raw_handle, str) and raw_handle else None
    if handle is None:
        return SignIn(False, user, "the passkey did not say whose it is (no user handle):"
                                   " only a discoverable passkey can sign in without a username", facts=facts)
    if await ctx.uow.webauthn.user_of_handle(handle) != user.id:
        return SignIn(False, user, "the passkey answered for another user (user handle mismatch)", facts=facts)
    try:
        verified = verify_authentication_response(
            credential=credential,
            credential_public_key=stored.public_key,
            credential_current_sign_count=stored.sign_count,
            require_user_verification=setting.user_verification == REQUIRED,
            **expected(ctx),
        )
    except REFUSED as exc:
        refuse_other_address(ctx, credential, exc)  # the settings', not a wrong proof
        if "sign count" in str(exc).lower():
            facts["sign_count_regressed"] = True
        return SignIn(False, user, refusal(exc), facts=facts)
    if not await ctx.uow.webauthn.advance_sign_count(
        stored.verification_id, stored.sign_count, verified.new_sign_count, verified.credential_backed_up, ctx.now
    ):
        return SignIn(False, user, "this passkey was used at the same moment elsewhere; try again", facts=facts)
    facts["user_verified"] = verified.user_verified
    return SignIn(True, user, user_verified=verified.user_verified, facts=facts)
