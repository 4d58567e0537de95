"""The Management API's rules: users, their factors, the MFA configuration (rules 4 and 5).

Every change is logged (what changed and by whom, never a password, secret or code) and its
domain events become webhook messages at commit. Removing and renaming a factor are one
implementation each (``remove_verification``, ``rename_verification``), run in the caller's
unit of work: the Management API's and an account flow's (``remove_factor``, ``rename_factor``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Iterable, Sequence

from .. import contacts, logs, texts
from ..crypto import SecretBox
from ..domain.adaptive import AdaptiveConfig, AdaptiveError
from ..domain.devices import DAYS_DEFAULT, DeviceTrust
from ..domain.errors import Conflict, InvalidInput, NotFound, RuleBroken
from ..domain.events import FactorRemoved, MfaReset, OrganizationMembership, UserUnlocked
from ..domain.flow import iso
from ..domain.organizations import Organization
from ..domain.passkey_sign_in import PasskeySignIn
from ..domain.policy import MfaConfig, PolicyError
from ..domain.users import User, UserFactor, UserSearch, cursor_username, page_cursor
from ..factors.base import ManageContext
from ..factors.registry import Registry
from ..passwords import ARGON2, HashingPool, digests
from ..passwords.profiles import Argon2Profile
from ..settings import Settings
from ..store import Database, UnitOfWork
from ..store.errors import UsernameTaken
from . import devices
from .organizations import Organizations

log = logs.get(__name__)


def user_view(user: User, factor_types: Iterable[str], all_factors: Sequence[str], now: datetime,
              organizations: Iterable[Organization] = ()) -> dict[str, Any]:
    """The User resource; ``mfa`` holds what the policy rules read of the user, and the factor
    types they have enrolled (in the registry's order); ``organizations`` those they are a
    member of, by name."""
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "phone": user.phone,
        "has_password": user.password_hash is not None,
        "created_at": iso(user.created_at),
        "locale": user.locale,
        "mfa": {
            "factors": [f for f in all_factors if f in set(factor_types)],
            "required": user.mfa_required,
            "skip_on_sign_in": user.mfa_skip_on_sign_in,
            "prompted": user.prompted,
            "last_used": user.last_used_factor,
            # A lock that has run out is no lock: the user may sign in again.
            "locked_until": iso(user.locked_until) if user.locked_until and user.locked_at(now) else None,
        },
        "organizations": [o.reference() for o in organizations],
    }


def factor_view(registry: Registry, v: UserFactor) -> dict[str, Any]:
    """A user's factor as the API shows it (``MfaVerification``): never its secret."""
    view: dict[str, Any] = {
        "id": v.id,
        "type": v.type,
        "created_at": iso(v.created_at),
        "last_used_at": iso(v.last_used_at) if v.last_used_at else None,
    }
    factor = registry.get(v.type)
    if factor is not None:
        view.update(factor.describe(v))
    return view


async def remove_factors(uow: UnitOfWork, primary: tuple[str, ...], user_id: str, doomed: list[UserFactor],
                         reason: str, now: datetime, flow_id: str | None = None) -> tuple[list[UserFactor], int]:
    """The one way factors are removed (the Management API's DELETE and reset-mfa, an account
    flow's ``remove_factor``). Rule 4: when no primary factor is left, what cannot stand alone
    (backup codes) goes too and the prompted mark is cleared, so the user is asked to set MFA
    up again. Every trusted device of the user is revoked (``reason``). The caller holds the
    user's row lock. Returns the factors removed and the devices revoked."""
    for v in doomed:
        await uow.user_factors.delete(v.id)
    removed = list(doomed)
    remaining = await uow.user_factors.for_user(user_id)
    if any(v.type in primary for v in doomed) and not any(r.type in primary for r in remaining):
        for r in remaining:  # what cannot stand alone goes with the last primary factor
            await uow.user_factors.delete(r.id)
        await uow.users.mark_prompted(user_id, False)
        removed += remaining
    uow.record(*(FactorRemoved(user_id, r.type, r.id, now, flow_id) for r in removed))
    # A device trusted while these factors stood may have been trusted by whoever held them.
    revoked = await devices.revoke_all(uow, user_id, reason, now, flow_id)
    return removed, revoked


async def remove_verification(uow: UnitOfWork, primary: tuple[str, ...], user_id: str, verification_id: str,
                              now: datetime, flow_id: str | None = None) -> tuple[list[UserFactor], int]:
    """Remove one of the user's factors (``remove_factors``: rule 4, devices revoked); the
    named factor comes first in what was removed."""
    v = await uow.user_factors.get(user_id, verification_id)
    if v is None:
        raise NotFound(f"verification {verification_id} of user {user_id}")
    return await remove_factors(uow, primary, user_id, [v], "factor_removed", now, flow_id)


async def rename_verification(uow: UnitOfWork, registry: Registry, user_id: str, verification_id: str,
                              name: str) -> UserFactor:
    """Rename one of the user's passkeys (the only factors with a name)."""
    v = await uow.user_factors.get(user_id, verification_id)
    if v is None:
        raise NotFound(f"verification {verification_id} of user {user_id}")
    factor = registry.get(v.type)
    if factor is None or not factor.renamable():
        raise RuleBroken("only passkeys (webauthn) have a name", field="name")
    await uow.user_factors.rename(verification_id, name)
    v.name = name
    return v


# The unique constraint a new or changed user broke, and the field it is about.
_TAKEN = {"users_pkey": "id", "users_username_key": "username", "users_email_key": "email",
          "users_phone_key": "phone"}


def _taken(exc: UsernameTaken) -> Conflict:
    what = _TAKEN.get(exc.args[0] if exc.args else "", "username")
    return Conflict(f"a user with this {what} exists already", kind="user-exists", field=what)


def _contacts(body: dict[str, Any]) -> dict[str, str | None]:
    """The body's ``email`` and ``phone`` (those it has) in their normal forms; null clears one."""
    normalisers = {"email": contacts.normalise_email, "phone": contacts.normalise_phone}
    found: dict[str, str | None] = {}
    for name, normalise in normalisers.items():
        if name not in body:
            continue
        try:
            found[name] = normalise(body[name]) if body[name] is not None else None
        except ValueError as exc:
            raise InvalidInput(f"body.{name}: {exc}", field=name) from None
    return found


def _imported_digest(body: dict[str, Any], profile: Argon2Profile) -> tuple[str, str]:
    """``password_digest`` and ``password_algorithm`` from another system, checked (cheaply:
    parsing only) so that a digest that can never match, or would cost more per check than
    the service allows beside its own ``profile``, is refused now, not at sign-in."""
    if body.get("password") is not None:
        raise InvalidInput("body: give either password or password_digest, not both", field="password_digest")
    algorithm, digest = body["password_algorithm"], body["password_digest"]
    try:
        digests.check(algorithm, digest, profile)
    except digests.MalformedDigest as exc:
        raise InvalidInput(f"body.password_digest: {exc}", field="password_digest") from None
    except digests.DigestTooCostly as exc:
        facts = {"limit": exc.limit} if exc.limit else {}
        raise RuleBroken(f"body.password_digest: {exc}", field="password_digest", **facts) from None
    return digest, algorithm


class Management:
    def __init__(self, db: Database, settings: Settings, box: SecretBox, registry: Registry,
                 hashing: HashingPool) -> None:
        self.db = db
        self.settings = settings
        self.box = box
        self.factors = registry
        self.machine = registry.machine
        self.hashing = hashing  # the sign-ins' bounded pool: the admin's hashing waits in the same queue
        self.organizations = Organizations(db, self._user_views)

    def factor_view(self, v: UserFactor) -> dict[str, Any]:
        return factor_view(self.factors, v)

    async def _user_views(self, uow: UnitOfWork, users: list[User]) -> list[dict[str, Any]]:
        ids = [u.id for u in users]
        types = await uow.user_factors.types_of(ids) if users else {}
        organizations = await uow.organizations.of_users(ids) if users else {}
        now = _now()
        return [user_view(u, types.get(u.id, ()), self.machine.all_factors, now, organizations.get(u.id, ()))
                for u in users]

    async def _user_view(self, uow: UnitOfWork, user: User) -> dict[str, Any]:
        return (await self._user_views(uow, [user]))[0]

    # --- configuration -----------------------------------------------------------------------

    async def get_config(self) -> dict[str, Any]:
        async with self.db.unit_of_work() as uow:
            config = await uow.config.get()
            passkeys = await uow.passkey_sign_in.get()
        return {"factors": list(config.factors), "policy": config.policy,
                "trusted_devices": config.trusted_devices.to_json(), "adaptive": config.adaptive.to_json(),
                "passkey_sign_in": passkeys.to_json()}

    async def put_config(self, body: dict[str, Any]) -> dict[str, Any]:
        """The whole configuration: what the body leaves out takes its default (trusted
        devices off), as a PUT replaces the resource."""
        trust_body = body.get("trusted_devices", {})
        try:
            trust = DeviceTrust(bool(trust_body.get("enabled", False)), trust_body.get("days", DAYS_DEFAULT))
        except ValueError as exc:
            raise RuleBroken(str(exc), field="trusted_devices.days") from None
        try:
            adaptive = AdaptiveConfig.from_json(body.get("adaptive"))
        except AdaptiveError as exc:
            raise RuleBroken(str(exc), field=exc.field) from None
        try:
            config = MfaConfig.checked(self.machine, tuple(body["factors"]), body["policy"], trust, adaptive)
        except PolicyError as exc:
            raise RuleBroken(str(exc), field=exc.field) from None
        passkeys = _passkey_sign_in(body, config.primary)
        async with self.db.unit_of_work() as uow:
            await uow.config.put(config.factors, config.policy, config.trusted_devices, config.adaptive)
            await uow.passkey_sign_in.put(passkeys)
            # Devices already trusted follow at once: off revokes them all, fewer days cut them.
            revoked, shortened = await devices.follow_configuration(uow, config.trusted_devices, _now())
            await uow.commit()
        log.info("mfa configuration changed", kind="admin", factors=list(config.factors), policy=config.policy,
                 trusted_devices=config.trusted_devices.to_json(), adaptive=config.adaptive.enabled,
                 devices_revoked=revoked, devices_shortened=shortened)
        return {"factors": list(config.factors), "policy": config.policy,
                "trusted_devices": config.trusted_devices.to_json(), "adaptive": config.adaptive.to_json(),
                "passkey_sign_in": passkeys.to_json()}

    # --- users --------------------------------------------------------------------------------

    async def add_user(self, body: dict[str, Any]) -> dict[str, Any]:
        """A new user, with a password (hashed here), a digest imported from another system
        (kept until the first sign-in rehashes it), or neither (signed in by the embedding backend)."""
        found = _contacts(body)
        password_hash, algorithm = None, ARGON2
        if body.get("password_digest") is not None:
            password_hash, algorithm = _imported_digest(body, self.hashing.hasher.profile)
        elif body.get("password"):
            password_hash = await self.hashing.hash(body["password"])
        async with self.db.unit_of_work() as uow:
            try:
                user = await uow.users.add(body.get("id") or str(uuid.uuid4()), body["username"], password_hash,
                                           password_algorithm=algorithm, email=found.get("email"),
                                           phone=found.get("phone"))
            except UsernameTaken as exc:
                raise _taken(exc) from None
            view = await self._user_view(uow, user)
            await uow.commit()
        log.info("user added", kind="admin", user_id=user.id, has_password=password_hash is not None,
                 password_algorithm=user.password_algorithm)
        return view

    async def change_user(self, user_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """``PATCH``: email, phone (null clears either), password; ``mfa.required`` and
        ``mfa.skip_on_sign_in`` (stored whatever the policy: the rules decide when each holds)."""
        changes: dict[str, str | None] = dict(_contacts(body))
        if "locale" in body:
            changes["locale"] = _locale(body["locale"])
        if body.get("password") is not None:
            changes["password_hash"] = await self.hashing.hash(body["password"])
            changes["password_algorithm"] = ARGON2
        settings: dict[str, bool] = body.get("mfa", {})
        async with self.db.unit_of_work() as uow:
            try:
                user = await uow.users.update(user_id, changes)
            except UsernameTaken as exc:
                raise _taken(exc) from None
            if user is not None and settings:
                user = await uow.users.set_mfa_settings(user_id, settings.get("required"),
                                                        settings.get("skip_on_sign_in"))
            if user is None:
                raise NotFound(f"user {user_id}")
            if "password_hash" in changes:
                # A new password: whoever trusted a device with the old one may be who it was
                # changed against, so no device outlives it.
                await devices.revoke_all(uow, user_id, "password_changed", _now())
            view = await self._user_view(uow, user)
            await uow.commit()
        changed = {"password" if c.startswith("password") else c for c in changes} | {f"mfa.{k}" for k in settings}
        log.info("user changed", kind="admin", user_id=user_id, changed=sorted(changed))
        return view

    async def list_users(self, search: str | None, after: str | None, limit: int) -> dict[str, Any]:
        """A page of users ordered by username, with the cursor of the next page (None at the end)."""
        last = cursor_username(after) if after is not None else None
        async with self.db.unit_of_work(readonly=True) as uow:
            users = await uow.users.page(last, limit + 1, UserSearch.of(search) if search else None)
            more = len(users) > limit
            users = users[:limit]
            items = await self._user_views(uow, users)
        return {"items": items, "next": page_cursor(users[-1].username) if more else None}

    async def get_user(self, user_id: str) -> dict[str, Any]:
        async with self.db.unit_of_work() as uow:
            user = await uow.users.get(user_id)
            if user is None:
                raise NotFound(f"user {user_id}")
            return await self._user_view(uow, user)

    async def unlock_user(self, user_id: str) -> dict[str, Any]:
        """End the user's lockout now, and start counting failures afresh. ``user.unlocked``
        only when there was a lockout to end."""
        async with self.db.unit_of_work() as uow:
            user = await self._locked_user(uow, user_id)
            now = _now()
            was_locked = user.locked_at(now)
            await uow.users.unlock(user_id)
            user.locked_until, user.consecutive_failures = None, 0
            if was_locked:
                uow.record(UserUnlocked(user_id, now))
            view = await self._user_view(uow, user)
            await uow.commit()
        log.info("user unlocked", kind="admin", user_id=user_id, was_locked=was_locked)
        return view

    async def reset_mfa(self, user_id: str) -> dict[str, Any]:
        """Remove every factor and trusted device of the user and clear the prompted mark (and
        the last-used factor): the next sign-in prompts as for a new user. The per-user
        settings (``required``, ``skip_on_sign_in``) stay: they are choices, not enrolments."""
        async with self.db.unit_of_work() as uow:
            user = await self._locked_user(uow, user_id)
            now = _now()
            factors = await uow.user_factors.for_user(user_id)
            removed, revoked = await remove_factors(uow, self.machine.primary_factors, user_id, factors, "mfa_reset",
                                                    now)
            await uow.users.forget_mfa(user_id)
            user.prompted, user.last_used_factor = False, None
            uow.record(MfaReset(user_id, len(removed), now))
            view = await self._user_view(uow, user)
            await uow.commit()
        log.info("mfa reset", kind="admin", user_id=user_id, factors_removed=len(removed), devices_revoked=revoked)
        return view

    async def delete_user(self, user_id: str) -> None:
        async with self.db.unit_of_work() as uow:
            await self._locked_user(uow, user_id)  # first: a membership change waits for it
            factors = await uow.user_factors.for_user(user_id)
            left = await uow.organizations.leave_all(user_id)
            await uow.users.delete(user_id)
            now = _now()
            uow.record(*(FactorRemoved(user_id, v.type, v.id, now) for v in factors))
            uow.record(*(OrganizationMembership(o, user_id, False, now, "user_deleted") for o in left))
            await uow.commit()
        log.info("user deleted", kind="admin", user_id=user_id, factors_removed=len(factors), organizations_left=len(left))

    # --- factors (the "mfa-verifications" resource) -------------------------------------------

    async def _locked_user(self, uow: UnitOfWork, user_id: str) -> User:
        user = await uow.users.get(user_id, lock=True)
        if user is None:
            raise NotFound(f"user {user_id}")
        return user

    async def list_factors(self, user_id: str) -> list[dict[str, Any]]:
        async with self.db.unit_of_work() as uow:
            if await uow.users.get(user_id) is None:
                raise NotFound(f"user {user_id}")
            return [self.factor_view(v) for v in await uow.user_factors.for_user(user_id)]

    async def add_factor(self, user_id: str, body: dict[str, Any]) -> dict[str, Any]:
        kind = body["type"]
        factor = self.factors.get(kind)
        if factor is None:
            raise RuleBroken(f"unknown factor {kind!r}", field="type")
        async with self.db.unit_of_work() as uow:
            user = await self._locked_user(uow, user_id)
            existing = await uow.user_factors.for_user(user_id)
            ctx = ManageContext(uow, user, existing, self.settings, self.box, _now(), self.machine.primary_factors,
                                body)
            added = await factor.add_by_admin(ctx)
            await uow.commit()
        user_factor = added.pop("user_factor", None)
        view = {**self.factor_view(user_factor), **added} if user_factor is not None else added
        log.info("factor added", kind="admin", user_id=user_id, factor=kind, verification_id=view.get("id"))
        return view

    async def rename_factor(self, user_id: str, verification_id: str, name: str) -> dict[str, Any]:
        async with self.db.unit_of_work() as uow:
            await self._locked_user(uow, user_id)
            v = await rename_verification(uow, self.factors, user_id, verification_id, name)
            await uow.commit()
        log.info("factor renamed", kind="admin", user_id=user_id, verification_id=verification_id)
        return self.factor_view(v)

    async def remove_factor(self, user_id: str, verification_id: str) -> None:
        """Rule 4 (``remove_verification``)."""
        async with self.db.unit_of_work() as uow:
            await self._locked_user(uow, user_id)
            removed, revoked = await remove_verification(uow, self.machine.primary_factors, user_id, verification_id,
                                                         _now())
            await uow.commit()
        log.info("factor removed", kind="admin", user_id=user_id, verification_id=verification_id,
                 also_removed=len(removed) - 1, devices_revoked=revoked)

    # --- trusted devices ------------------------------------------------------------------------

    async def list_devices(self, user_id: str) -> list[dict[str, Any]]:
        async with self.db.unit_of_work() as uow:
            if await uow.users.get(user_id) is None:
                raise NotFound(f"user {user_id}")
            return [devices.device_view(d) for d in await uow.devices.for_user(user_id)]

    async def revoke_devices(self, user_id: str, device_id: str | None = None) -> None:
        """Revoke one of the user's trusted devices, or all of them (``device_id`` None)."""
        async with self.db.unit_of_work() as uow:
            await self._locked_user(uow, user_id)
            now = _now()
            if device_id is None:
                count = await devices.revoke_all(uow, user_id, "admin", now)
            elif await devices.revoke_one(uow, user_id, device_id, "admin", now):
                count = 1
            else:
                raise NotFound(f"trusted device {device_id} of user {user_id}")
            await uow.commit()
        log.info("trusted devices revoked", kind="admin", user_id=user_id, device_id=device_id, count=count)

    async def purge_expired_devices(self) -> int:
        """Delete trusted devices past their expiry (never honoured any more); the sweep calls it."""
        async with self.db.unit_of_work() as uow:
            count = await uow.devices.delete_expired(_now())
            await uow.commit()
        return count


def _now() -> datetime:
    return datetime.now(UTC)


def _passkey_sign_in(body: dict[str, Any], primary: tuple[str, ...]) -> PasskeySignIn:
    """The body's ``passkey_sign_in`` (off when left out, as a PUT replaces the whole
    configuration), checked against the primary factors it needs."""
    try:
        setting = PasskeySignIn.from_json(body.get("passkey_sign_in"))
    except ValueError as exc:
        raise RuleBroken(str(exc), field="passkey_sign_in.user_verification") from None
    problem = setting.problem(primary)
    if problem is not None:
        raise RuleBroken(problem[1], field=problem[0])
    return setting


def _locale(value: str | None) -> str | None:
    """A user's locale: one the service has texts in (``null`` clears it: the default applies)."""
    if value is None:
        return None
    code = value.strip().lower().replace("_", "-").split("-")[0]
    if code not in texts.LOCALES:
        raise RuleBroken(f"locale {value!r} is not offered; offered: {', '.join(texts.LOCALES)}", field="locale")
    return code
