"""Where a flow goes after its first factor and after a set-up: rules 1 to 3 of the contract.

Pure functions of the machine (which factors exist, and their states), the MFA configuration
and a snapshot of the user's factors; no I/O, so each rule is a unit test away.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .devices import DeviceTrust
from .machine import DONE, FACTOR_SELECTION, FlowMachine

USER_CONTROLLED = "user_controlled"
MANDATORY = "mandatory"
POLICIES = (USER_CONTROLLED, MANDATORY)
BACKUP_CODE = "backup_code"  # rule 2 names it: the codes that follow a primary set-up
TRUSTED_DEVICE_RULE = "done.trusted_device"


class PolicyError(ValueError):
    """The configuration breaks a rule (for instance backup codes with no primary factor)."""


@dataclass(frozen=True)
class MfaConfig:
    """A checked MFA configuration: build it with ``MfaConfig.checked``. ``primary`` is the
    enabled factors that stand on their own (the others need one of these first)."""

    factors: tuple[str, ...]
    policy: str
    primary: tuple[str, ...] = field(default=(), compare=False)
    trusted_devices: DeviceTrust = DeviceTrust()

    @classmethod
    def checked(cls, machine: FlowMachine, factors: tuple[str, ...] | list[str], policy: str,
                trusted_devices: DeviceTrust = DeviceTrust()) -> "MfaConfig":
        unknown = [f for f in factors if f not in machine.all_factors]
        if unknown:
            raise PolicyError(f"unknown factor {unknown[0]!r}; choose from {', '.join(machine.all_factors)}")
        if policy not in POLICIES:
            raise PolicyError(f"unknown policy {policy!r}; choose {' or '.join(POLICIES)}")
        primary = tuple(f for f in machine.primary_factors if f in factors)
        secondary = [f for f in factors if f not in machine.primary_factors]
        if secondary and not primary:
            raise PolicyError(
                f"{secondary[0]} cannot be enabled without a primary factor ({' or '.join(machine.primary_factors)})"
            )
        # One canonical order, so that equal configurations compare and digest equal.
        return cls(tuple(f for f in machine.all_factors if f in factors), policy, primary, trusted_devices)

    @property
    def backup_codes_enabled(self) -> bool:
        return BACKUP_CODE in self.factors


@dataclass(frozen=True)
class UserFactors:
    """What the rules need to know of a user."""

    enrolled: frozenset[str]  # primary factor types the user has set up
    has_unused_backup_codes: bool
    prompted: bool
    last_used: str | None


@dataclass(frozen=True)
class Route:
    """Where the flow goes next, and why (``rule`` is written into the transition log)."""

    to_state: str
    mode: str | None  # "setup", "verify" or None
    choices: tuple[str, ...] = ()
    skippable: bool = False
    preferred: str | None = None
    rule: str = ""


def after_first_factor(machine: FlowMachine, config: MfaConfig, user: UserFactors, *,
                       trusted_device: bool = False) -> Route:
    """Rule 1: verify what the user has, set up what the policy asks, or finish.

    ``trusted_device``: the first factor came with a valid device token of this user; it
    stands in for verification (the device proved a second factor before), never for set-up.
    """
    enrolled = tuple(f for f in config.primary if f in user.enrolled)
    if enrolled and trusted_device:
        return Route(DONE, None, rule=TRUSTED_DEVICE_RULE)
    if enrolled:
        codes = (BACKUP_CODE,) if config.backup_codes_enabled and user.has_unused_backup_codes else ()
        choices = enrolled + codes
        if len(choices) == 1:
            return Route(machine.verify_state[choices[0]], "verify", choices, rule="verify.only_factor")
        if user.last_used in choices:
            return Route(
                machine.verify_state[user.last_used], "verify", choices, preferred=user.last_used,
                rule="verify.last_used",
            )
        return Route(FACTOR_SELECTION, "verify", choices, rule="verify.choose")
    if not config.primary:
        return Route(DONE, None, rule="done.no_factor_enabled")
    if config.policy == USER_CONTROLLED and user.prompted:
        return Route(DONE, None, rule="done.already_prompted")
    skippable = config.policy == USER_CONTROLLED
    rule = "setup.offered" if skippable else "setup.required"
    if len(config.primary) == 1:
        return Route(machine.setup_state[config.primary[0]], "setup", config.primary, skippable, rule=rule)
    return Route(FACTOR_SELECTION, "setup", config.primary, skippable, rule=rule)


# The mode each rule of ``after_first_factor`` puts a flow in, and whether set-up may then be
# skipped. The audit replay reads the rule back from the log to know which ``skip`` and which
# ``select_factor`` the policy allowed: the machine's table alone cannot tell a choice of
# factors to verify from a choice of factors to set up (both are ``factor_selection``).
RULE_MODES: dict[str, tuple[str | None, bool]] = {
    "verify.only_factor": ("verify", False),
    "verify.last_used": ("verify", False),
    "verify.choose": ("verify", False),
    "done.no_factor_enabled": (None, False),
    "done.already_prompted": (None, False),
    TRUSTED_DEVICE_RULE: (None, False),
    "setup.offered": ("setup", True),
    "setup.required": ("setup", False),
}


def mode_of_rule(rule: object) -> tuple[str | None, bool]:
    """(mode, skippable) after the first factor under ``rule``; no mode for an unknown rule."""
    return RULE_MODES.get(rule, (None, False)) if isinstance(rule, str) else (None, False)


def after_selection(machine: FlowMachine, mode: str | None, factor: str) -> str:
    """``select_factor``: set the factor up or verify it, as the flow's mode says."""
    return machine.setup_state[factor] if mode == "setup" else machine.verify_state[factor]


def after_setup(machine: FlowMachine, config: MfaConfig, has_unused_backup_codes: bool) -> Route:
    """Rule 2: a new primary factor is followed by a fresh set of backup codes when enabled."""
    if config.backup_codes_enabled and not has_unused_backup_codes:
        follow_up = next(state for state, factor in machine.follow_up.items() if factor == BACKUP_CODE)
        return Route(follow_up, "setup", rule="setup.backup_codes")
    return Route(DONE, "setup", rule="done.setup_complete")


def can_switch(choices: tuple[str, ...]) -> bool:
    """``switch_factor`` makes sense only when there is another factor to pick."""
    return len(choices) > 1
