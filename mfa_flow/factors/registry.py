"""The factors of this build, and the machine's table assembled from them.

Adding a factor: write its package (``mfa_flow/factors/<name>/``, the interface in
``base.py``) and name it in ``FACTORS`` below; nothing else changes.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Iterator

from ..domain.machine import FlowMachine
from . import backup_code, email_code, sms_code, totp, webauthn
from .base import Factor

FACTORS: tuple[Factor, ...] = (totp.FACTOR, webauthn.FACTOR, email_code.FACTOR, sms_code.FACTOR, backup_code.FACTOR)

REMEMBER_DEVICE = {
    "type": "boolean",
    "description": "Trust this device (when trusted devices are enabled): if this event completes the sign-in,"
                   " result.device_token is shown once",
}


class Registry:
    """The factors by name, and the one machine whose table they complete."""

    def __init__(self, factors: tuple[Factor, ...] = FACTORS) -> None:
        self._factors = {f.name: f for f in factors}
        self.machine = FlowMachine([f.states for f in factors])

    def __getitem__(self, name: str) -> Factor:
        return self._factors[name]

    def __iter__(self) -> Iterator[Factor]:
        return iter(self._factors.values())

    def __contains__(self, name: object) -> bool:
        return name in self._factors

    def get(self, name: str | None) -> Factor | None:
        return self._factors.get(name) if name else None

    def of_state(self, state: str) -> Factor | None:
        """The factor whose set-up, verification or follow-up state ``state`` is."""
        return self.get(self.machine.factor_of_state.get(state) or self.machine.follow_up.get(state))

    def event_schemas(self) -> dict[str, dict[str, Any]]:
        """The JSON Schemas of the factors' events, by component name. An event that can
        complete a sign-in (a proof, or a follow-up that leads to done) may carry
        ``remember_device``: every factor's, without each one declaring it."""
        completing = self.machine.completing_events
        schemas = {}
        for factor in self:
            for name, schema in factor.schemas.items():
                if schema["properties"]["type"]["const"] in completing:
                    schema = {**schema, "properties": {**schema["properties"], "remember_device": REMEMBER_DEVICE}}
                schemas[name] = schema
        return schemas


@cache
def default() -> Registry:
    """The registry of this build (one per process)."""
    return Registry(FACTORS)
