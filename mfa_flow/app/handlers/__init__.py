"""One handler per client event. Each decides, inside the event's transaction, which steps the
flow takes (and maybe an error to answer); the pipeline alone writes them.

Handlers for a factor's own extra events (``send_code`` of a code factor, say) come from the
factor (``Factor.handle``); proof events of every factor share ``proof.handle``.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from ...factors.base import FactorContext, JsonObject
from ..rules import Decision, Rules
from . import (
    acknowledge_backup_codes,
    add_factor,
    cancel,
    factor_event,
    finish,
    regenerate_backup_codes,
    remove_factor,
    rename_factor,
    revoke_trusted_devices,
    select_factor,
    set_mfa_enabled,
    skip,
    submit_passkey,
    submit_password,
    submit_proof,
    submit_registration,
    switch_factor,
)

Handler = Callable[[Rules, FactorContext, JsonObject, dict[str, Any]], Awaitable[Decision]]

CORE: dict[str, Handler] = {
    "submit_password": submit_password.handle,
    "submit_registration": submit_registration.handle,
    "select_factor": select_factor.handle,
    "acknowledge_backup_codes": acknowledge_backup_codes.handle,
    "regenerate_backup_codes": regenerate_backup_codes.handle,
    "add_factor": add_factor.handle,
    "remove_factor": remove_factor.handle,
    "rename_factor": rename_factor.handle,
    "set_mfa_enabled": set_mfa_enabled.handle,
    "revoke_trusted_devices": revoke_trusted_devices.handle,
    "finish": finish.handle,
    "skip": skip.handle,
    "switch_factor": switch_factor.handle,
    "cancel": cancel.handle,
}


def handlers(rules: Rules) -> dict[str, Handler]:
    """Every client event's handler: the core's, one proof handler for every factor's proof
    event, and the factor's own handler for its other events."""
    table = dict(CORE)
    for name in rules.machine.proof_event.values():
        table[name] = submit_proof.handle
    for name in rules.machine.sign_in_events:
        table[name] = submit_passkey.handle
    for factor in rules.registry:
        for name in factor.states.events:
            table.setdefault(name, factor_event.handle)
    return table
