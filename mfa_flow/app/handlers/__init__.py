"""One handler per client event. Each decides, inside the event's transaction, which steps the
flow takes (and maybe an error to answer); the pipeline alone writes them.

Two kinds, by what the flow has when the event comes: before its first factor a flow has no
user, and its events' handlers (``FirstFactorHandler``) get the locked flow alone and name the
user in their ``Decision``; every other event's handler (``Handler``) gets the flow with its
user. ``cancel`` is of the first kind, so it serves both. A handler gets its dependencies when
``bootstrap`` builds the table (``table``), and ``Outcomes`` does what an outcome writes
beyond the flow.

Handlers for a factor's own extra events (``send_code`` of a code factor, say) come from the
factor (``Factor.handle_event``); proof events of every factor share ``SubmitProof``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...factors.registry import Registry
from ..commands import FirstFactorHandler, Handler
from ..outcomes import Outcomes
from . import cancel, finish, revoke_trusted_devices
from .acknowledge_backup_codes import AcknowledgeBackupCodes
from .add_factor import AddFactor
from .factor_event import FactorEvent
from .regenerate_backup_codes import RegenerateBackupCodes
from .remove_factor import RemoveFactor
from .rename_factor import RenameFactor
from .select_factor import SelectFactor
from .set_mfa_enabled import SetMfaEnabled
from .skip import Skip
from .submit_passkey import SubmitPasskey
from .submit_password import SubmitPassword
from .submit_proof import SubmitProof
from .submit_registration import SubmitRegistration
from .switch_factor import SwitchFactor


@dataclass(frozen=True)
class Handlers:
    """Every client event's handler, by the kind of flow it runs on."""

    first_factor: dict[str, FirstFactorHandler]  # the flow has no user yet
    with_user: dict[str, Handler]  # the flow's user is known (and locked)

    def __contains__(self, event: str) -> bool:
        return event in self.first_factor or event in self.with_user


def table(registry: Registry, outcomes: Outcomes) -> Handlers:
    """Every client event's handler: the core's, one proof handler for every factor's proof
    event, a sign-in handler for every factor's sign-in event, and the factor's own handler
    for its other events."""
    machine = registry.machine
    first_factor: dict[str, FirstFactorHandler] = {
        "submit_password": SubmitPassword(outcomes),
        "submit_registration": SubmitRegistration(outcomes),
        "cancel": cancel.handle,
    }
    passkey = SubmitPasskey(outcomes)
    for name in machine.sign_in_events:
        first_factor[name] = passkey
    with_user: dict[str, Handler] = {
        "select_factor": SelectFactor(machine),
        "acknowledge_backup_codes": AcknowledgeBackupCodes(registry, outcomes),
        "regenerate_backup_codes": RegenerateBackupCodes(registry),
        "add_factor": AddFactor(registry),
        "remove_factor": RemoveFactor(machine),
        "rename_factor": RenameFactor(registry),
        "set_mfa_enabled": SetMfaEnabled(machine),
        "revoke_trusted_devices": revoke_trusted_devices.handle,
        "finish": finish.handle,
        "skip": Skip(outcomes),
        "switch_factor": SwitchFactor(machine),
        "cancel": cancel.handle,
    }
    proof = SubmitProof(outcomes)
    for name in machine.proof_event.values():
        with_user[name] = proof
    own = FactorEvent(registry)
    for factor in registry:
        for name in factor.states.events:
            with_user.setdefault(name, own)
    return Handlers(first_factor, with_user)
