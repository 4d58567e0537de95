"""Where a flow goes after its first factor and after a set-up: rules 1 to 3 of the contract.

Pure functions of the machine (which factors exist, and their states), the MFA configuration
and a snapshot of the user's factors; no I/O, so each rule is a unit test away.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .adaptive import AdaptiveConfig, Assessment
from .devices import DeviceTrust
from .errors import DomainFault
from .machine import DONE, FACTOR_SELECTION, FlowMachine
from .machine import MANAGE as MANAGE_STATE

MANDATORY = "mandatory"
PROMPT_AT_SIGN_IN_AND_SIGN_UP = "prompt_at_sign_in_and_sign_up"
PROMPT_ONLY_AT_SIGN_IN = "prompt_only_at_sign_in"
NO_PROMPT = "no_prompt"
# The no-skip set-up prompts of the adaptive mode (Logto's ``PromptAtSignInAndSignUpMandatory``
# and ``PromptOnlyAtSignInMandatory``): set-up cannot be skipped, and a user with factors
# verifies when adaptive MFA says so. They go with adaptive on, and only they do.
PROMPT_AT_SIGN_IN_AND_SIGN_UP_MANDATORY = "prompt_at_sign_in_and_sign_up_mandatory"
PROMPT_ONLY_AT_SIGN_IN_MANDATORY = "prompt_only_at_sign_in_mandatory"
NO_SKIP_POLICIES = (PROMPT_AT_SIGN_IN_AND_SIGN_UP_MANDATORY, PROMPT_ONLY_AT_SIGN_IN_MANDATORY)
POLICIES = (MANDATORY, PROMPT_AT_SIGN_IN_AND_SIGN_UP, PROMPT_ONLY_AT_SIGN_IN, NO_PROMPT, *NO_SKIP_POLICIES)
# Older names still accepted on input; a configuration is always stored and shown by its
# canonical name, so the log and the configuration digest name each policy one way.
USER_CONTROLLED = "user_controlled"
POLICY_ALIASES = {USER_CONTROLLED: PROMPT_AT_SIGN_IN_AND_SIGN_UP}
BACKUP_CODE = "backup_code"  # rule 2 names it: the codes that follow a primary set-up
TRUSTED_DEVICE_RULE = "done.trusted_device"
ADAPTIVE_VERIFY_RULE = "verify.adaptive"  # a risk rule fired: verify
ADAPTIVE_NO_RISK_RULE = "done.adaptive_no_risk"  # adaptive on, no rule fired: done without a second factor

# What a flow is for (``purpose``): signing in, or managing one's own factors (account flows).
SIGN_IN = "sign_in"
MANAGE = "manage"

# The per-flow and per-user settings that can decide a route against the policy alone; the
# transition's ``data.override`` names the one that did.
STEP_UP = "step_up"
REQUIRED = "required"
SKIP_ON_SIGN_IN = "skip_on_sign_in"
TRUSTED_DEVICE = "trusted_device"
ORGANIZATION = "organization"  # a member of an organisation that requires MFA


def canonical_policy(name: str) -> str:
    """The policy's canonical name (an alias becomes the name it stands for)."""
    return POLICY_ALIASES.get(name, name)


class PolicyError(DomainFault, ValueError):
    """The configuration breaks a rule (for instance backup codes with no primary factor);
    ``field`` names the setting to change, when one does."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message, field=field)


@dataclass(frozen=True)
class MfaConfig:
    """A checked MFA configuration: build it with ``MfaConfig.checked``. ``primary`` is the
    enabled factors that stand on their own (the others need one of these first)."""

    factors: tuple[str, ...]
    policy: str
    primary: tuple[str, ...] = field(default=(), compare=False)
    trusted_devices: DeviceTrust = DeviceTrust()
    adaptive: AdaptiveConfig = AdaptiveConfig()

    @classmethod
    def checked(cls, machine: FlowMachine, factors: tuple[str, ...] | list[str], policy: str,
                trusted_devices: DeviceTrust = DeviceTrust(),
                adaptive: AdaptiveConfig = AdaptiveConfig()) -> "MfaConfig":
        unknown = [f for f in factors if f not in machine.all_factors]
        if unknown:
            raise PolicyError(f"unknown factor {unknown[0]!r}; choose from {', '.join(machine.all_factors)}")
        policy = canonical_policy(policy)
        if policy not in POLICIES:
            names = (*POLICIES, *POLICY_ALIASES)
            raise PolicyError(f"unknown policy {policy!r}; choose one of {', '.join(names)}")
        primary = tuple(f for f in machine.primary_factors if f in factors)
        secondary = [f for f in factors if f not in machine.primary_factors]
        if secondary and not primary:
            raise PolicyError(
                f"{secondary[0]} cannot be enabled without a primary factor ({' or '.join(machine.primary_factors)})",
                "factors",
            )
        # Logto's checks: adaptive MFA needs a factor to verify and a no-skip prompt (a user
        # who could skip set-up would never be asked for anything); the no-skip prompts mean
        # "verify when adaptive says so", so they need adaptive on.
        if adaptive.enabled and not primary:
            raise PolicyError("adaptive MFA needs at least one primary factor enabled: with none, no rule could"
                              " ask for a second factor", "factors")
        if adaptive.enabled and policy not in NO_SKIP_POLICIES:
            raise PolicyError(f"adaptive MFA needs the policy {' or '.join(NO_SKIP_POLICIES)} (set-up without skip),"
                              f" not {policy}", "policy")
        if policy in NO_SKIP_POLICIES and not adaptive.enabled:
            raise PolicyError(f"the policy {policy} verifies users when adaptive MFA says so: turn adaptive MFA on"
                              " (adaptive.enabled) or choose another policy", "adaptive.enabled")
        # One canonical order, so that equal configurations compare and digest equal.
        return cls(tuple(f for f in machine.all_factors if f in factors), policy, primary, trusted_devices, adaptive)

    @property
    def backup_codes_enabled(self) -> bool:
        return BACKUP_CODE in self.factors


@dataclass(frozen=True)
class UserFactors:
    """What the rules need to know of a user: their factors, their marks and their settings."""

    enrolled: frozenset[str]  # primary factor types the user has set up
    has_unused_backup_codes: bool
    prompted: bool
    last_used: str | None
    required: bool = False  # treated as under ``mandatory`` whatever the policy
    organization: str | None = None  # the id of an organisation of the user's that requires MFA
    skip_on_sign_in: bool = False  # opted out of verification at sign-in (non-mandatory policies only)


@dataclass(frozen=True)
class Route:
    """Where the flow goes next, and why (``rule`` and ``override`` are written into the
    transition log)."""

    to_state: str
    mode: str | None  # "setup", "verify" or None
    choices: tuple[str, ...] = ()
    skippable: bool = False
    preferred: str | None = None
    rule: str = ""
    override: str | None = None  # the setting that decided against the policy alone, if one did


def mandatory_for(config: MfaConfig, user: UserFactors) -> bool:
    """Whether MFA is mandatory for this user: by the policy (a no-skip prompt too: there the
    user cannot opt out, adaptive MFA decides), by the user's ``required``, or by an
    organisation of theirs that requires MFA."""
    return config.policy in (MANDATORY, *NO_SKIP_POLICIES) or required_for(user)


def required_for(user: UserFactors) -> bool:
    """MFA is required of this user whatever the policy: by ``required`` or an organisation."""
    return user.required or user.organization is not None


def _required_override(user: UserFactors) -> str:
    return REQUIRED if user.required else ORGANIZATION


def after_first_factor(machine: FlowMachine, config: MfaConfig, user: UserFactors, *, purpose: str = SIGN_IN,
                       step_up: bool = False, trusted_device: bool = False, sign_up: bool = False,
                       mfa_proven: bool = False, risk: Assessment | None = None) -> Route:
    """Rule 1 and the policies' table: verify what the user has, set up what the policy asks,
    or finish.

    ``step_up``: the embedding app asked for a second factor now, whatever the policy and the
    user's opt-out. ``sign_up``: the first factor was a registration (some policies do not
    prompt then). ``trusted_device``: the first factor came with a valid device token of this
    user; it stands in for verification (the device proved a second factor before), never for
    set-up and never under step-up. ``purpose`` ``manage``: an account flow, where a user
    with factors proves one first (a step-up: no opt-out, no trusted device, no skip) unless
    ``mfa_proven`` (the sign-in whose result token started the flow proved MFA with a factor),
    and a user without factors has nothing to protect yet; then ``manage``. ``risk``: adaptive
    MFA's assessment of this sign-in (adaptive on, a user with factors): a fired rule means
    verify (a trusted device does not stand in for it); no fired rule means done, unless MFA
    is required of the user (``required``, an organisation), which adaptive never waives.
    """
    enrolled = tuple(f for f in config.primary if f in user.enrolled)
    if enrolled:
        if purpose == MANAGE:
            if mfa_proven:
                return Route(MANAGE_STATE, "manage", rule="manage.mfa_proven")
            return _verify(machine, config, user, enrolled)
        if step_up:
            return _verify(machine, config, user, enrolled, override=STEP_UP)
        adaptive = config.adaptive.enabled and risk is not None
        if adaptive and risk is not None and risk.risky:
            return _verify(machine, config, user, enrolled, rule=ADAPTIVE_VERIFY_RULE)
        if trusted_device:
            return Route(DONE, None, rule=TRUSTED_DEVICE_RULE, override=TRUSTED_DEVICE)
        if adaptive:
            if required_for(user):
                return _verify(machine, config, user, enrolled, override=_required_override(user))
            return Route(DONE, None, rule=ADAPTIVE_NO_RISK_RULE)
        if user.skip_on_sign_in:
            if not mandatory_for(config, user):
                return Route(DONE, None, rule="done.opted_out", override=SKIP_ON_SIGN_IN)
            # Opted out, but verification is mandatory: say so when it is the user's
            # ``required`` (or organisation) that overrode the opt-out (under ``mandatory`` the policy did).
            override = None if config.policy in (MANDATORY, *NO_SKIP_POLICIES) else _required_override(user)
            return _verify(machine, config, user, enrolled, override=override)
        return _verify(machine, config, user, enrolled)
    if purpose == MANAGE:
        return Route(MANAGE_STATE, "manage", rule="manage.no_factor")
    if not config.primary:
        return Route(DONE, None, rule="done.no_factor_enabled")
    if step_up:
        return _setup(machine, config, skippable=False, override=STEP_UP)
    if config.policy == MANDATORY:
        return _setup(machine, config, skippable=False)
    if required_for(user):
        return _setup(machine, config, skippable=False, override=_required_override(user))
    if config.policy == PROMPT_ONLY_AT_SIGN_IN_MANDATORY and sign_up:
        return Route(DONE, None, rule="done.no_prompt_at_sign_up")
    if config.policy in NO_SKIP_POLICIES:
        return _setup(machine, config, skippable=False)
    if config.policy == NO_PROMPT:
        return Route(DONE, None, rule="done.no_prompt")
    if config.policy == PROMPT_ONLY_AT_SIGN_IN and sign_up:
        return Route(DONE, None, rule="done.no_prompt_at_sign_up")
    if user.prompted:
        return Route(DONE, None, rule="done.already_prompted")
    return _setup(machine, config, skippable=True)


def skip_refusal(config: MfaConfig, user: UserFactors) -> str | None:
    """Why a set-up offered as skippable (rule ``setup.offered``) may not be skipped now, or
    None: the offer is re-decided when ``skip`` comes, from the configuration and the user as
    they are then. Set-up became mandatory (the policy, or the user's ``required``), or the
    user has enrolled a factor since (a sign-in of theirs verifies it: skipping would sign
    them in without it)."""
    if config.policy == MANDATORY:
        return "the MFA policy is now mandatory"
    if config.policy in NO_SKIP_POLICIES:
        return f"the MFA policy is now {config.policy}, whose set-up cannot be skipped"
    if user.required:
        return "MFA is now required for this user (mfa.required)"
    if user.organization is not None:
        return "an organisation of this user now requires MFA"
    enrolled = [f for f in config.primary if f in user.enrolled]
    if enrolled:
        return f"the user has enrolled a factor since ({', '.join(enrolled)}), and a sign-in verifies it"
    return None


def _verify(machine: FlowMachine, config: MfaConfig, user: UserFactors, enrolled: tuple[str, ...],
            override: str | None = None, rule: str | None = None) -> Route:
    """Verify one of the user's factors: straight to the only one, to the last-used one, or a
    choice. ``rule`` names why, when it is not the routing itself (``verify.adaptive``)."""
    codes = (BACKUP_CODE,) if config.backup_codes_enabled and user.has_unused_backup_codes else ()
    choices = enrolled + codes
    if len(choices) == 1:
        return Route(machine.verify_state[choices[0]], "verify", choices, rule=rule or "verify.only_factor",
                     override=override)
    if user.last_used in choices:
        return Route(machine.verify_state[user.last_used], "verify", choices, preferred=user.last_used,
                     rule=rule or "verify.last_used", override=override)
    return Route(FACTOR_SELECTION, "verify", choices, rule=rule or "verify.choose", override=override)


def _setup(machine: FlowMachine, config: MfaConfig, skippable: bool, override: str | None = None) -> Route:
    """Set a factor up: straight to the only enabled one, or a choice; skippable or not."""
    rule = "setup.offered" if skippable else "setup.required"
    to_state = machine.setup_state[config.primary[0]] if len(config.primary) == 1 else FACTOR_SELECTION
    return Route(to_state, "setup", config.primary, skippable, rule=rule, override=override)


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
    "done.opted_out": (None, False),
    "done.no_prompt": (None, False),
    "done.no_prompt_at_sign_up": (None, False),
    TRUSTED_DEVICE_RULE: (None, False),
    ADAPTIVE_VERIFY_RULE: ("verify", False),
    ADAPTIVE_NO_RISK_RULE: (None, False),
    "setup.offered": ("setup", True),
    "setup.required": ("setup", False),
    "manage.no_factor": ("manage", False),
    "manage.mfa_proven": ("manage", False),
}


def mode_of_rule(rule: object) -> tuple[str | None, bool]:
    """(mode, skippable) after the first factor under ``rule``; no mode for an unknown rule."""
    return RULE_MODES.get(rule, (None, False)) if isinstance(rule, str) else (None, False)


# The rules that let a user through without the second factor the policy alone would waive,
# or let them skip its set-up: never the rule of a user MFA is required of (``required_for``).
# The audit replay holds a first row that names an organisation requiring MFA to this.
WAIVERS = ("done.already_prompted", "done.opted_out", "done.no_prompt", "done.no_prompt_at_sign_up",
           ADAPTIVE_NO_RISK_RULE, "setup.offered")


def after_selection(machine: FlowMachine, mode: str | None, factor: str) -> str:
    """``select_factor``: set the factor up or verify it, as the flow's mode says."""
    return machine.setup_state[factor] if mode == "setup" else machine.verify_state[factor]


def after_setup(machine: FlowMachine, config: MfaConfig, has_unused_backup_codes: bool,
                purpose: str = SIGN_IN) -> Route:
    """Rule 2: a new primary factor is followed by a fresh set of backup codes when enabled;
    then a sign-in is done, and an account flow is back in ``manage``."""
    mode = "manage" if purpose == MANAGE else "setup"
    if config.backup_codes_enabled and not has_unused_backup_codes:
        follow_up = next(state for state, factor in machine.follow_up.items() if factor == BACKUP_CODE)
        return Route(follow_up, mode, rule="setup.backup_codes")
    if purpose == MANAGE:
        return Route(MANAGE_STATE, mode, rule="manage.factor_added")
    return Route(DONE, mode, rule="done.setup_complete")


def can_switch(choices: tuple[str, ...]) -> bool:
    """``switch_factor`` makes sense only when there is another factor to pick."""
    return len(choices) > 1
