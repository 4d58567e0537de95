"""Trusted devices inside a change's own transaction: remember one, recognise one, revoke them.

Sign-in handlers, the Management API and account flows all call these, so each rule about
devices has one implementation: the token is made here and leaves only through the flow
that remembered it (``Flow.shown_once``); only its SHA-256 digest is stored (the token
carries 256 random bits, so a plain digest cannot be reversed by guessing); revoking
records one ``mfa.device_revoked`` message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..crypto import new_token, token_digest
from ..domain import devices
from ..domain.devices import DeviceTrust, TrustedDevice
from ..domain.events import DevicesRevoked, DeviceTrusted
from ..domain.flow import Flow, iso
from ..store import UnitOfWork


async def remember(uow: UnitOfWork, flow: Flow, user_id: str, trust: DeviceTrust, now: datetime) -> TrustedDevice:
    """Trust the device that completed ``flow`` for ``trust.days``: the token goes into the
    flow's ``shown_once`` (the answer to this event, for the flow-token holder only); the
    stored result names the device, never its token."""
    token = new_token(devices.TOKEN_PREFIX)
    device = await uow.devices.add(user_id, token_digest(token), flow.id, now, now + timedelta(days=trust.days))
    flow.shown_once["device_token"] = token
    if flow.result is not None:
        flow.result["trusted_device"] = {"id": device.id, "expires_at": iso(device.expires_at)}
    uow.record(DeviceTrusted(user_id, device.id, flow.id, device.expires_at, now))
    return device


async def recognise(uow: UnitOfWork, token: str, user_id: str, now: datetime,
                    days: int) -> tuple[str, TrustedDevice | None]:
    """What a device token presented at ``user_id``'s first factor is worth, while devices are
    trusted for ``days``: a verdict (``devices.HONOURED`` or why not) and the device, when it
    is one of this user's."""
    device = await uow.devices.by_digest(token_digest(token))
    if device is None:
        return devices.UNKNOWN, None
    verdict = device.verdict(user_id, now, days)
    return verdict, device if verdict != devices.OTHER_USER else None


async def revoke_all(uow: UnitOfWork, user_id: str, reason: str, now: datetime, flow_id: str | None = None) -> int:
    """Revoke every trusted device of the user (a factor removed, MFA reset, a lockout, the
    admin or the user asked); one webhook message when there was any. Returns how many."""
    count = await uow.devices.delete_all(user_id)
    if count:
        uow.record(DevicesRevoked(user_id, None, count, reason, now, flow_id))
    return count


async def revoke_one(uow: UnitOfWork, user_id: str, device_id: str, reason: str, now: datetime) -> bool:
    """Revoke one of the user's devices; False when the user has no such device."""
    if not await uow.devices.delete(user_id, device_id):
        return False
    uow.record(DevicesRevoked(user_id, device_id, 1, reason, now))
    return True


async def follow_configuration(uow: UnitOfWork, trust: DeviceTrust, now: datetime) -> tuple[int, int]:
    """Devices already trusted follow a changed configuration in its transaction: turned off,
    every device of every user is revoked (one ``mfa.device_revoked`` per user, reason
    ``trusted_devices_disabled``), so turning it on again honours none of them; with fewer
    ``days``, every device expires ``days`` after it was trusted, if that is sooner. Returns
    (revoked, shortened)."""
    if not trust.enabled:
        revoked = await uow.devices.delete_every()
        for user_id, count in revoked:
            uow.record(DevicesRevoked(user_id, None, count, "trusted_devices_disabled", now))
        return sum(count for _, count in revoked), 0
    return 0, await uow.devices.shorten(trust.days)


def device_view(device: TrustedDevice) -> dict[str, object]:
    return {
        "id": device.id,
        "created_at": iso(device.created_at),
        "expires_at": iso(device.expires_at),
        "last_used_at": iso(device.last_used_at) if device.last_used_at else None,
        "flow_id": device.flow_id,
    }
