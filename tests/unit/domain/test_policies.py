"""The four policies, the per-user settings and step-up: the contract's "Policies and per-user
settings" table and "Step-up", row by row, then as properties over every combination."""

from __future__ import annotations

from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mfa_flow.domain import policy
from mfa_flow.domain.policy import Route, UserFactors
from mfa_flow.factors.registry import default

MACHINE = default().machine
MfaConfig = partial(policy.MfaConfig.checked, MACHINE)
after_first_factor = partial(policy.after_first_factor, MACHINE)

POLICIES = ("mandatory", "prompt_at_sign_in_and_sign_up", "prompt_only_at_sign_in", "no_prompt")
NON_MANDATORY = POLICIES[1:]


def user(enrolled=(), prompted=False, required=False, opted_out=False, codes=False, last_used=None) -> UserFactors:
    return UserFactors(frozenset(enrolled), codes, prompted, last_used, required=required, skip_on_sign_in=opted_out)


def outcome(route: Route) -> tuple[str, str, str | None]:
    """What the contract's table says of a route: set-up (skippable or not), verify, or done; and why."""
    if route.mode == "setup":
        kind = "set-up, skippable" if route.skippable else "set-up, no skip"
    else:
        kind = "verify" if route.mode == "verify" else "done"
    return kind, route.rule, route.override


NEW_USER, UNPROMPTED, PROMPTED = user(), user(), user(prompted=True)
WITH_FACTOR, OPTED_OUT = user(["totp"], prompted=True), user(["totp"], prompted=True, opted_out=True)


# --- the table of the contract, cell by cell -------------------------------------------------

TABLE = {
    # policy: (sign-up, sign-in never prompted, sign-in prompted before, with factors, with factors opted out)
    "mandatory": (
        ("set-up, no skip", "setup.required", None),
        ("set-up, no skip", "setup.required", None),
        ("set-up, no skip", "setup.required", None),
        ("verify", "verify.only_factor", None),
        ("verify", "verify.only_factor", None),
    ),
    "prompt_at_sign_in_and_sign_up": (
        ("set-up, skippable", "setup.offered", None),
        ("set-up, skippable", "setup.offered", None),
        ("done", "done.already_prompted", None),
        ("verify", "verify.only_factor", None),
        ("done", "done.opted_out", "skip_on_sign_in"),
    ),
    "prompt_only_at_sign_in": (
        ("done", "done.no_prompt_at_sign_up", None),
        ("set-up, skippable", "setup.offered", None),
        ("done", "done.already_prompted", None),
        ("verify", "verify.only_factor", None),
        ("done", "done.opted_out", "skip_on_sign_in"),
    ),
    "no_prompt": (
        ("done", "done.no_prompt", None),
        ("done", "done.no_prompt", None),
        ("done", "done.no_prompt", None),
        ("verify", "verify.only_factor", None),
        ("done", "done.opted_out", "skip_on_sign_in"),
    ),
}
CASES = [
    ("sign-up", NEW_USER, True),
    ("first sign-in without factors", UNPROMPTED, False),
    ("sign-in without factors, prompted before", PROMPTED, False),
    ("sign-in with factors", WITH_FACTOR, False),
    ("sign-in with factors, opted out", OPTED_OUT, False),
]


@pytest.mark.parametrize("policy_name", POLICIES)
@pytest.mark.parametrize("case", range(len(CASES)), ids=[c[0] for c in CASES])
def test_each_policy_does_what_the_contract_table_says(policy_name, case):
    _, who, sign_up = CASES[case]
    route = after_first_factor(MfaConfig(("totp",), policy_name), who, sign_up=sign_up)
    assert outcome(route) == TABLE[policy_name][case]


@pytest.mark.parametrize("policy_name", NON_MANDATORY)
def test_a_required_user_is_treated_as_under_mandatory(policy_name):
    config = MfaConfig(("totp", "webauthn"), policy_name)
    for who, sign_up in [(user(required=True), True), (user(required=True, prompted=True), False)]:
        route = after_first_factor(config, who, sign_up=sign_up)
        assert route == Route("factor_selection", "setup", ("totp", "webauthn"), False, rule="setup.required",
                              override="required")


@pytest.mark.parametrize("policy_name", NON_MANDATORY)
def test_required_overrides_the_opt_out_and_says_so(policy_name):
    route = after_first_factor(MfaConfig(("totp",), policy_name), user(["totp"], required=True, opted_out=True))
    assert route == Route("totp_verify", "verify", ("totp",), rule="verify.only_factor", override="required")


def test_under_mandatory_the_policy_itself_refuses_the_opt_out():
    route = after_first_factor(MfaConfig(("totp",), "mandatory"), user(["totp"], required=True, opted_out=True))
    assert route == Route("totp_verify", "verify", ("totp",), rule="verify.only_factor", override=None)


def test_required_without_an_opt_out_changes_nothing_for_a_user_with_factors():
    route = after_first_factor(MfaConfig(("totp",), "no_prompt"), user(["totp"], required=True))
    assert route.override is None and route.rule == "verify.only_factor"


def test_the_opt_out_does_not_stop_the_set_up_prompt():
    """Opting out is about verification at sign-in; a user without factors is prompted as the policy says."""
    route = after_first_factor(MfaConfig(("totp",), "prompt_only_at_sign_in"), user(opted_out=True))
    assert outcome(route) == ("set-up, skippable", "setup.offered", None)


def test_the_prompt_at_sign_up_counts_as_the_one_prompt():
    config = MfaConfig(("totp",), "prompt_at_sign_in_and_sign_up")
    assert after_first_factor(config, user(prompted=True), sign_up=False).rule == "done.already_prompted"


def test_user_controlled_is_an_alias_of_prompt_at_sign_in_and_sign_up():
    assert MfaConfig(("totp",), "user_controlled") == MfaConfig(("totp",), "prompt_at_sign_in_and_sign_up")
    assert MfaConfig(("totp",), "user_controlled").policy == "prompt_at_sign_in_and_sign_up"


# --- step-up -----------------------------------------------------------------------------------


@pytest.mark.parametrize("policy_name", POLICIES)
def test_step_up_verifies_a_user_with_factors_whatever_the_policy_and_the_opt_out(policy_name):
    config = MfaConfig(("totp", "webauthn", "backup_code"), policy_name)
    route = after_first_factor(config, user(["webauthn"], opted_out=True, codes=True, last_used="webauthn"),
                               step_up=True)
    assert route == Route("webauthn_verify", "verify", ("webauthn", "backup_code"), preferred="webauthn",
                          rule="verify.last_used", override="step_up")


@pytest.mark.parametrize("policy_name", POLICIES)
@pytest.mark.parametrize("prompted", [False, True])
def test_step_up_sets_a_factor_up_without_skip_for_a_user_without_one(policy_name, prompted):
    route = after_first_factor(MfaConfig(("totp",), policy_name), user(prompted=prompted), step_up=True)
    assert route == Route("totp_setup", "setup", ("totp",), False, rule="setup.required", override="step_up")


def test_step_up_with_no_factor_enabled_cannot_ask_for_one():
    route = after_first_factor(MfaConfig((), "mandatory"), user(["totp"]), step_up=True)
    assert route == Route("done", None, rule="done.no_factor_enabled")


# --- properties over every combination -------------------------------------------------------

FACTOR_SETS = [(), ("totp",), ("webauthn",), ("totp", "webauthn"), ("totp", "backup_code"),
               ("webauthn", "backup_code"), ("totp", "webauthn", "backup_code")]
configs = st.builds(MfaConfig, st.sampled_from(FACTOR_SETS), st.sampled_from((*POLICIES, "user_controlled")))
users = st.builds(
    UserFactors,
    enrolled=st.frozensets(st.sampled_from(MACHINE.primary_factors)),
    has_unused_backup_codes=st.booleans(),
    prompted=st.booleans(),
    last_used=st.sampled_from((None, *MACHINE.primary_factors, "backup_code")),
    required=st.booleans(),
    skip_on_sign_in=st.booleans(),
)
every_combination = given(config=configs, who=users, step_up=st.booleans(), sign_up=st.booleans())
# The space (7 factor sets x 5 policy names x 2^8 user and flow facts) is small; cover it well.
thoroughly = settings(max_examples=600, deadline=None)


@thoroughly
@every_combination
def test_every_rule_is_one_the_audit_replay_knows(config, who, step_up, sign_up):
    route = after_first_factor(config, who, step_up=step_up, sign_up=sign_up)
    assert route.rule in policy.RULE_MODES
    assert policy.mode_of_rule(route.rule) == (route.mode, route.skippable)


@thoroughly
@every_combination
def test_skip_is_offered_exactly_where_a_prompting_policy_allows_it(config, who, step_up, sign_up):
    route = after_first_factor(config, who, step_up=step_up, sign_up=sign_up)
    has_factors = bool(who.enrolled & set(config.primary))
    prompts_now = config.policy == "prompt_at_sign_in_and_sign_up" or (
        config.policy == "prompt_only_at_sign_in" and not sign_up)
    allowed = (config.primary and not has_factors and not step_up and not who.required and not who.prompted
               and prompts_now)
    assert route.skippable == bool(allowed)


@thoroughly
@every_combination
def test_a_user_with_factors_verifies_unless_a_permitted_opt_out_holds(config, who, step_up, sign_up):
    route = after_first_factor(config, who, step_up=step_up, sign_up=sign_up)
    if not who.enrolled & set(config.primary):
        assert route.mode != "verify"
        return
    opted_out = who.skip_on_sign_in and not step_up and not who.required and config.policy != "mandatory"
    assert (route.mode, route.rule) == ((None, "done.opted_out") if opted_out else ("verify", route.rule))
    if route.mode == "verify":
        assert set(route.choices) - {"backup_code"} == who.enrolled & set(config.primary)


@thoroughly
@every_combination
def test_step_up_always_asks_for_a_factor_when_one_is_enabled(config, who, step_up, sign_up):
    route = after_first_factor(config, who, step_up=True, sign_up=sign_up)
    if config.primary:
        assert route.mode in ("setup", "verify") and not route.skippable and route.override == "step_up"
    else:
        assert route.rule == "done.no_factor_enabled"


@thoroughly
@every_combination
def test_a_mandatory_user_without_factors_always_sets_one_up(config, who, step_up, sign_up):
    route = after_first_factor(config, who, step_up=step_up, sign_up=sign_up)
    if config.primary and not who.enrolled & set(config.primary) and policy.mandatory_for(config, who):
        assert (route.mode, route.skippable, route.rule) == ("setup", False, "setup.required")


@thoroughly
@every_combination
def test_the_override_named_is_a_setting_that_holds_and_changed_the_outcome(config, who, step_up, sign_up):
    route = after_first_factor(config, who, step_up=step_up, sign_up=sign_up)
    if route.override == "step_up":
        assert step_up and config.primary
    elif route.override == "required":
        assert who.required and config.policy != "mandatory" and not step_up
    elif route.override == "skip_on_sign_in":
        assert who.skip_on_sign_in and route.rule == "done.opted_out"
    else:
        assert route.override is None
        # Without an override the policy alone decided: the same route for a user without the settings.
        plain = UserFactors(who.enrolled, who.has_unused_backup_codes, who.prompted, who.last_used)
        assert after_first_factor(config, plain, sign_up=sign_up) == route


@thoroughly
@every_combination
def test_a_route_finishes_exactly_when_it_offers_nothing(config, who, step_up, sign_up):
    route = after_first_factor(config, who, step_up=step_up, sign_up=sign_up)
    assert (route.to_state == "done") == (route.choices == ()) == (route.mode is None)
    assert route.preferred is None or route.preferred in route.choices
    if route.mode == "setup":
        assert route.choices == config.primary
