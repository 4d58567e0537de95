"""The Management API's view of passkeys: a name (the admin may rename it) and the AAGUID.
Passkeys are registered by their user in a sign-in flow, never by the admin."""

from __future__ import annotations

from ...domain.users import UserFactor
from ..base import JsonObject


def describe(user_factor: UserFactor) -> JsonObject:
    return {"name": user_factor.name, "aaguid": user_factor.aaguid}
