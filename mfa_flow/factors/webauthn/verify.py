"""Signing in with a passkey: the assertion must come from a credential of this flow's user;
the new sign count is stored with a compare-and-set in the flow's transaction."""

from __future__ import annotations

from typing import Any

from webauthn import generate_authentication_options, verify_authentication_response
from webauthn.helpers.structs import UserVerificationRequirement

from ..base import FactorContext, JsonObject, Proof
from .ceremonies import (
    REFUSED,
    TIMEOUT_MS,
    credential_id_of,
    descriptor,
    expected,
    offer,
    refusal,
    refuse_other_address,
    response_of,
)


async def enter(ctx: FactorContext) -> None:
    credentials = await ctx.uow.webauthn.for_user(ctx.the_user.id)
    options = generate_authentication_options(
        rp_id=ctx.settings.rp_id,
        timeout=TIMEOUT_MS,
        allow_credentials=[descriptor(c.credential_id, c.transports) for c in credentials],
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    offer(ctx, options)


async def finish(ctx: FactorContext, credential: JsonObject) -> Proof:
    proof = await _check_assertion(ctx, credential)
    if not proof.ok:
        await enter(ctx)  # the challenge is spent either way
    return proof


async def _check_assertion(ctx: FactorContext, credential: JsonObject) -> Proof:
    user = ctx.the_user
    credential_id = credential_id_of(credential)
    if credential_id is None:
        return Proof(False, "the credential has no valid rawId (base64url)")
    stored = await ctx.uow.webauthn.by_credential_id(credential_id)
    if stored is None or stored.user_id != user.id:
        return Proof(False, "this passkey is not registered to this user")
    user_handle = response_of(credential).get("userHandle")
    if user_handle:
        handle = await ctx.uow.webauthn.user_handle(user.id)
        if not isinstance(user_handle, str) or credential_id_of({"id": user_handle}) != handle:
            return Proof(False, "the passkey answered for another user (user handle mismatch)")
    facts: dict[str, Any] = {"verification_id": stored.verification_id}
    try:
        verified = verify_authentication_response(
            credential=credential,
            credential_public_key=stored.public_key,
            credential_current_sign_count=stored.sign_count,
            **expected(ctx),
        )
    except REFUSED as exc:
        refuse_other_address(ctx, credential, exc)  # the settings', not a wrong proof
        if "sign count" in str(exc).lower():
            facts["sign_count_regressed"] = True  # a cloned authenticator, perhaps: keep the trace
        return Proof(False, refusal(exc), facts)
    if not await ctx.uow.webauthn.advance_sign_count(
        stored.verification_id, stored.sign_count, verified.new_sign_count, verified.credential_backed_up, ctx.now
    ):
        return Proof(False, "this passkey was used at the same moment elsewhere; try again", facts)
    return Proof(True, facts=facts)
