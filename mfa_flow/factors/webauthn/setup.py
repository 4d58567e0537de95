"""Registering a passkey: options offered on entering ``webauthn_setup``, the attestation
checked by py_webauthn, the credential id unique across users."""

from __future__ import annotations

from webauthn import generate_registration_options, verify_registration_response
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from ...store.errors import CredentialTaken
from ..base import FactorContext, JsonObject, Proof
from .ceremonies import (
    ALGORITHMS,
    REFUSED,
    TIMEOUT_MS,
    TRANSPORTS,
    default_name,
    descriptor,
    expected,
    offer,
    refusal,
    refuse_other_address,
    response_of,
)


async def enter(ctx: FactorContext) -> None:
    user = ctx.the_user
    handle = await ctx.uow.webauthn.user_handle(user.id)
    existing = await ctx.uow.webauthn.for_user(user.id)
    # With passkey sign-in on, a new passkey must be discoverable (it names its user at sign-in).
    signs_in = (await ctx.uow.passkey_sign_in.get()).enabled
    options = generate_registration_options(
        rp_id=ctx.settings.rp_id,
        rp_name=ctx.settings.rp_name,
        user_name=user.username,
        user_id=handle,
        timeout=TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED if signs_in else ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[descriptor(c.credential_id, c.transports) for c in existing],
        supported_pub_key_algs=ALGORITHMS,
    )
    offer(ctx, options)


async def finish(ctx: FactorContext, credential: JsonObject) -> Proof:
    user = ctx.the_user
    try:
        verified = verify_registration_response(credential=credential, supported_pub_key_algs=ALGORITHMS,
                                                **expected(ctx))
    except REFUSED as exc:
        refuse_other_address(ctx, credential, exc)  # the settings', not a wrong proof
        await enter(ctx)  # the challenge is spent either way
        return Proof(False, refusal(exc))
    user_factor = await ctx.uow.user_factors.add(user.id, "webauthn", name=default_name(ctx.now))
    transports = response_of(credential).get("transports") or []
    try:
        await ctx.uow.webauthn.add(
            user_factor.id,
            credential_id=verified.credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            transports=[t for t in transports if isinstance(t, str) and t in TRANSPORTS]
            if isinstance(transports, list) else [],
            aaguid=verified.aaguid,
            backup_eligible=verified.credential_device_type == "multi_device",
            backed_up=verified.credential_backed_up,
        )
    except CredentialTaken:
        await ctx.uow.user_factors.delete(user_factor.id)
        await enter(ctx)
        return Proof(False, "this passkey is registered already; use another authenticator")
    return Proof(True, facts={"verification_id": user_factor.id})
