"""Passkeys and security keys (WebAuthn), with py_webauthn doing the ceremony checks.

py_webauthn verifies signatures, origin, RP ID, challenge and flags. What it leaves to the
relying party is done here: the credential must belong to this flow's user (credential id
and user handle), credential ids are unique across users, a challenge is spent by any
answer to it (a failed attempt gets a fresh one), and the new sign count is stored with a
compare-and-set in the flow's transaction.
"""

from __future__ import annotations

import json
from datetime import datetime

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from ..store.webauthn import CredentialTaken
from . import FactorContext, FlowView, Proof

TIMEOUT_MS = 5 * 60 * 1000
ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]
_TRANSPORTS = {t.value for t in AuthenticatorTransport}
# What py_webauthn raises for a response that does not hold (malformed input included).
_REFUSED = (WebAuthnException, ValueError, TypeError, KeyError)


def _descriptor(credential_id: bytes, transports: list[str]) -> PublicKeyCredentialDescriptor:
    known = [AuthenticatorTransport(t) for t in transports if t in _TRANSPORTS]
    return PublicKeyCredentialDescriptor(id=credential_id, transports=known or None)


def _credential_id(credential: dict) -> bytes | None:
    raw = credential.get("rawId") or credential.get("id")
    if not isinstance(raw, str):
        return None
    try:
        return base64url_to_bytes(raw)
    except (ValueError, TypeError):
        return None


def _response(credential: dict) -> dict:
    response = credential.get("response")
    return response if isinstance(response, dict) else {}


def _reason(exc: Exception) -> str:
    """py_webauthn's own words, which say precisely what did not hold."""
    return f"the passkey's answer was refused: {exc}"


def default_name(now: datetime) -> str:
    return f"Passkey added {now:%Y-%m-%d}"


class Webauthn:
    name = "webauthn"
    amr = "hwk"

    # --- set-up ------------------------------------------------------------------------

    async def enter_setup(self, ctx: FactorContext) -> None:
        handle = await ctx.uow.webauthn.user_handle(ctx.user.id)
        existing = await ctx.uow.webauthn.for_user(ctx.user.id)
        options = generate_registration_options(
            rp_id=ctx.settings.rp_id,
            rp_name=ctx.settings.rp_name,
            user_name=ctx.user.username,
            user_id=handle,
            timeout=TIMEOUT_MS,
            attestation=AttestationConveyancePreference.NONE,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.PREFERRED,
            ),
            exclude_credentials=[_descriptor(c.credential_id, c.transports) for c in existing],
            supported_pub_key_algs=ALGORITHMS,
        )
        self._offer(ctx, options)

    async def finish_setup(self, ctx: FactorContext, event: dict) -> Proof:
        credential = event["credential"]
        try:
            verified = verify_registration_response(
                credential=credential, supported_pub_key_algs=ALGORITHMS, **self._expected(ctx)
            )
        except _REFUSED as exc:
            await self.enter_setup(ctx)  # the challenge is spent either way
            return Proof(False, _reason(exc))
        verification = await ctx.uow.verifications.add(ctx.user.id, "webauthn", name=default_name(ctx.now))
        transports = _response(credential).get("transports") or []
        try:
            await ctx.uow.webauthn.add(
                verification.id,
                credential_id=verified.credential_id,
                public_key=verified.credential_public_key,
                sign_count=verified.sign_count,
                transports=[t for t in transports if isinstance(t, str) and t in _TRANSPORTS] if isinstance(transports, list) else [],
                aaguid=verified.aaguid,
                backup_eligible=verified.credential_device_type == "multi_device",
                backed_up=verified.credential_backed_up,
            )
        except CredentialTaken:
            await ctx.uow.verifications.delete(verification.id)
            await self.enter_setup(ctx)
            return Proof(False, "this passkey is registered already; use another authenticator")
        return Proof(True, facts={"verification_id": verification.id})

    # --- verification --------------------------------------------------------------------

    async def enter_verify(self, ctx: FactorContext) -> None:
        credentials = await ctx.uow.webauthn.for_user(ctx.user.id)
        options = generate_authentication_options(
            rp_id=ctx.settings.rp_id,
            timeout=TIMEOUT_MS,
            allow_credentials=[_descriptor(c.credential_id, c.transports) for c in credentials],
            user_verification=UserVerificationRequirement.PREFERRED,
        )
        self._offer(ctx, options)

    async def finish_verify(self, ctx: FactorContext, event: dict) -> Proof:
        proof = await self._check_assertion(ctx, event["credential"])
        if not proof.ok:
            await self.enter_verify(ctx)  # the challenge is spent either way
        return proof

    async def _check_assertion(self, ctx: FactorContext, credential: dict) -> Proof:
        credential_id = _credential_id(credential)
        if credential_id is None:
            return Proof(False, "the credential has no valid rawId (base64url)")
        stored = await ctx.uow.webauthn.by_credential_id(credential_id)
        if stored is None or stored.user_id != ctx.user.id:
            return Proof(False, "this passkey is not registered to this user")
        user_handle = _response(credential).get("userHandle")
        if user_handle:
            handle = await ctx.uow.webauthn.user_handle(ctx.user.id)
            if not isinstance(user_handle, str) or _credential_id({"id": user_handle}) != handle:
                return Proof(False, "the passkey answered for another user (user handle mismatch)")
        facts = {"verification_id": stored.verification_id}
        try:
            verified = verify_authentication_response(
                credential=credential,
                credential_public_key=stored.public_key,
                credential_current_sign_count=stored.sign_count,
                **self._expected(ctx),
            )
        except _REFUSED as exc:
            if "sign count" in str(exc).lower():
                facts["sign_count_regressed"] = True  # a cloned authenticator, perhaps: keep the trace
            return Proof(False, _reason(exc), facts)
        if not await ctx.uow.webauthn.advance_sign_count(
            stored.verification_id, stored.sign_count, verified.new_sign_count, verified.credential_backed_up, ctx.now
        ):
            return Proof(False, "this passkey was used at the same moment elsewhere; try again", facts)
        return Proof(True, facts=facts)

    # --- what the client sees --------------------------------------------------------------

    def _offer(self, ctx: FactorContext, options) -> None:
        public_key = json.loads(options_to_json(options))
        ctx.flow.stage["publicKey"] = public_key
        ctx.flow.stage["challenge"] = public_key["challenge"]

    def _expected(self, ctx: FactorContext) -> dict:
        """What both ceremonies must match: the challenge this flow issued, our RP ID and origins."""
        return {
            "expected_challenge": base64url_to_bytes(ctx.flow.stage["challenge"]),
            "expected_rp_id": ctx.settings.rp_id,
            "expected_origin": list(ctx.settings.origins),
        }

    def challenge(self, view: FlowView) -> dict | None:
        public_key = view.flow.stage.get("publicKey")
        return {"publicKey": public_key} if public_key else None


FACTOR = Webauthn()
