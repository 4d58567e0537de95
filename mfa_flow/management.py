"""The Management API's rules: users, their factors, the MFA configuration (rules 4 and 5)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from . import machine, passwords
from .webhooks import factor_messages
from .config import Settings
from .crypto import SecretBox
from .domain import iso
from .factors import backup_codes, totp
from .policy import MfaConfig, PolicyError
from .problems import conflict, not_found, unprocessable
from .store import Database
from .store.users import User, UsernameTaken
from .store.verifications import Verification


def user_view(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "has_password": user.password_hash is not None,
        "prompted": user.prompted,
        "last_used_factor": user.last_used_factor,
        "locked_until": iso(user.locked_until) if user.locked_until else None,
        "created_at": iso(user.created_at),
    }


def verification_view(v: Verification) -> dict[str, Any]:
    view = {
        "id": v.id,
        "type": v.type,
        "created_at": iso(v.created_at),
        "last_used_at": iso(v.last_used_at) if v.last_used_at else None,
    }
    if v.type == "webauthn":
        view["name"] = v.name
        view["aaguid"] = v.aaguid
    if v.type == "backup_code":
        view["remaining"] = v.remaining
    return view


class Management:
    def __init__(self, db: Database, settings: Settings, box: SecretBox, available_factors):
        self.db = db
        self.settings = settings
        self.box = box
        self.available_factors = available_factors

    # --- configuration -----------------------------------------------------------------------

    async def get_config(self) -> dict:
        async with self.db.unit_of_work() as uow:
            config = await uow.config.get()
        return {"factors": list(config.factors), "policy": config.policy}

    async def put_config(self, body: dict) -> dict:
        try:
            config = MfaConfig(tuple(body["factors"]), body["policy"])
        except PolicyError as exc:
            raise unprocessable(str(exc)) from None
        missing = [f for f in config.factors if f not in self.available_factors]
        if missing:
            raise unprocessable(f"factor {missing[0]!r} is not available in this build")
        async with self.db.unit_of_work() as uow:
            await uow.config.put(config)
            await uow.commit()
        return {"factors": list(config.factors), "policy": config.policy}

    # --- users --------------------------------------------------------------------------------

    async def add_user(self, body: dict) -> dict:
        password_hash = await passwords.hash_password(body["password"]) if body.get("password") else None
        async with self.db.unit_of_work() as uow:
            try:
                user = await uow.users.add(body.get("id") or str(uuid.uuid4()), body["username"], password_hash)
            except UsernameTaken as exc:
                what = "id" if exc.args and exc.args[0] == "users_pkey" else "username"
                raise conflict(f"a user with this {what} exists already", slug="user-exists") from None
            await uow.commit()
        return user_view(user)

    async def get_user(self, user_id: str) -> dict:
        async with self.db.unit_of_work() as uow:
            user = await uow.users.get(user_id)
        if user is None:
            raise not_found(f"user {user_id}")
        return user_view(user)

    async def delete_user(self, user_id: str) -> None:
        async with self.db.unit_of_work() as uow:
            factors = await uow.verifications.for_user(user_id)
            if not await uow.users.delete(user_id):
                raise not_found(f"user {user_id}")
            await uow.outbox.add(factor_messages("removed", user_id, [(v.id, v.type) for v in factors], _now()))
            await uow.commit()

    # --- factors ("MFA verifications") --------------------------------------------------------

    async def _locked_user(self, uow, user_id: str) -> User:
        user = await uow.users.get(user_id, lock=True)
        if user is None:
            raise not_found(f"user {user_id}")
        return user

    async def list_verifications(self, user_id: str) -> list[dict]:
        async with self.db.unit_of_work() as uow:
            if await uow.users.get(user_id) is None:
                raise not_found(f"user {user_id}")
            return [verification_view(v) for v in await uow.verifications.for_user(user_id)]

    async def add_verification(self, user_id: str, body: dict) -> dict:
        kind = body["type"]
        async with self.db.unit_of_work() as uow:
            user = await self._locked_user(uow, user_id)
            existing = await uow.verifications.for_user(user_id)
            if kind == "totp":
                if any(v.type == "totp" for v in existing):
                    raise conflict("the user already has an authenticator app; delete it first", slug="factor-exists")
                secret = totp.new_secret()
                v = await uow.verifications.add(user_id, "totp", secret_sealed=self.box.seal(secret))
                await uow.outbox.add(factor_messages("enrolled", user_id, [(v.id, "totp")], _now()))
                view = {
                    **verification_view(v),
                    "secret": secret,
                    "otpauth_uri": totp.otpauth_uri(secret, user.username, self.settings.issuer),
                }
            elif kind == "backup_code":
                if not any(v.type in machine.PRIMARY_FACTORS for v in existing):
                    raise unprocessable("backup codes cannot stand alone: the user needs a primary factor first")
                set_id, codes = await backup_codes.issue_set(uow, user_id, self.box.pepper)
                replaced = [(v.id, v.type) for v in existing if v.type == "backup_code"]
                await uow.outbox.add(factor_messages("removed", user_id, replaced, _now())
                                     + factor_messages("enrolled", user_id, [(set_id, "backup_code")], _now()))
                view = {"id": set_id, "type": "backup_code", "codes": codes}
            else:
                raise unprocessable(
                    f"{kind} factors are registered by the user in a sign-in flow, not through the Management API"
                )
            await uow.commit()
        return view

    async def rename_verification(self, user_id: str, verification_id: str, name: str) -> dict:
        async with self.db.unit_of_work() as uow:
            await self._locked_user(uow, user_id)
            v = await uow.verifications.get(user_id, verification_id)
            if v is None:
                raise not_found(f"verification {verification_id} of user {user_id}")
            if v.type != "webauthn":
                raise unprocessable("only passkeys (webauthn) have a name")
            await uow.verifications.rename(verification_id, name)
            v.name = name
            await uow.commit()
        return verification_view(v)

    async def remove_verification(self, user_id: str, verification_id: str) -> None:
        """Rule 4: removing the last primary factor removes the backup codes too and clears
        the prompted mark, so the user is asked to set MFA up again."""
        async with self.db.unit_of_work() as uow:
            await self._locked_user(uow, user_id)
            v = await uow.verifications.get(user_id, verification_id)
            if v is None:
                raise not_found(f"verification {verification_id} of user {user_id}")
            await uow.verifications.delete(verification_id)
            removed = [(v.id, v.type)]
            remaining = await uow.verifications.for_user(user_id)
            if v.type in machine.PRIMARY_FACTORS and not any(r.type in machine.PRIMARY_FACTORS for r in remaining):
                await uow.verifications.delete_type(user_id, "backup_code")
                await uow.users.mark_prompted(user_id, False)
                removed += [(r.id, r.type) for r in remaining if r.type == "backup_code"]
            await uow.outbox.add(factor_messages("removed", user_id, removed, _now()))
            await uow.commit()


def _now() -> datetime:
    return datetime.now(timezone.utc)
