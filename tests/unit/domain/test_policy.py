"""Rules 1, 2 and 5 of the contract, row by row."""

from __future__ import annotations

from functools import partial

import pytest

from mfa_flow.domain import policy
from mfa_flow.domain.adaptive import AdaptiveConfig
from mfa_flow.domain.policy import PolicyError, Route, UserFactors
from mfa_flow.factors.registry import default

MACHINE = default().machine
MfaConfig = partial(policy.MfaConfig.checked, MACHINE)
after_first_factor = partial(policy.after_first_factor, MACHINE)
after_setup = partial(policy.after_setup, MACHINE)
after_selection = partial(policy.after_selection, MACHINE)
can_switch, mode_of_rule = policy.can_switch, policy.mode_of_rule


def user(enrolled=(), codes=False, prompted=False, last_used=None) -> UserFactors:
    return UserFactors(frozenset(enrolled), codes, prompted, last_used)


MANDATORY_TOTP = MfaConfig(("totp",), "mandatory")
MANDATORY_BOTH = MfaConfig(("totp", "webauthn", "backup_code"), "mandatory")
CONTROLLED_TOTP = MfaConfig(("totp", "backup_code"), "user_controlled")
CONTROLLED_BOTH = MfaConfig(("totp", "webauthn"), "user_controlled")


class TestVerify:
    def test_one_enrolled_factor_goes_straight_to_it(self):
        route = after_first_factor(MANDATORY_TOTP, user(["totp"]))
        assert route == Route("totp_verify", "verify", ("totp",), rule="verify.only_factor")

    def test_backup_codes_count_as_a_choice_when_enabled_and_unused(self):
        route = after_first_factor(MANDATORY_BOTH, user(["totp"], codes=True))
        assert route.to_state == "factor_selection" and route.choices == ("totp", "backup_code")

    def test_used_up_backup_codes_are_no_choice(self):
        route = after_first_factor(MANDATORY_BOTH, user(["totp"], codes=False))
        assert route.to_state == "totp_verify"

    def test_several_choices_go_to_the_last_used_factor(self):
        route = after_first_factor(MANDATORY_BOTH, user(["totp", "webauthn"], last_used="webauthn"))
        assert route.to_state == "webauthn_verify"
        assert route.preferred == "webauthn" and route.rule == "verify.last_used"
        assert route.choices == ("totp", "webauthn")

    def test_several_choices_without_a_last_used_factor_go_to_selection(self):
        route = after_first_factor(MANDATORY_BOTH, user(["totp", "webauthn"]))
        assert route.to_state == "factor_selection" and route.mode == "verify"

    def test_a_last_used_factor_that_is_no_longer_enabled_is_ignored(self):
        config = MfaConfig(("webauthn",), "mandatory")
        route = after_first_factor(config, user(["totp", "webauthn"], last_used="totp"))
        assert route.to_state == "webauthn_verify"

    def test_enrolled_factors_of_disabled_types_do_not_count(self):
        config = MfaConfig(("webauthn",), "mandatory")
        route = after_first_factor(config, user(["totp"]))
        assert route.to_state == "webauthn_setup"

    def test_user_controlled_users_with_mfa_verify_too(self):
        route = after_first_factor(CONTROLLED_TOTP, user(["totp"], prompted=True))
        assert route.to_state == "totp_verify"


class TestSetup:
    def test_no_primary_factor_enabled_means_done(self):
        assert after_first_factor(MfaConfig((), "mandatory"), user()).to_state == "done"

    def test_mandatory_with_one_factor_goes_straight_to_its_setup(self):
        route = after_first_factor(MANDATORY_TOTP, user())
        assert route == Route("totp_setup", "setup", ("totp",), False, rule="setup.required")

    def test_mandatory_with_two_factors_offers_a_choice_without_skip(self):
        route = after_first_factor(MANDATORY_BOTH, user())
        assert route.to_state == "factor_selection" and route.choices == ("totp", "webauthn")
        assert route.skippable is False

    def test_mandatory_ignores_the_prompted_mark(self):
        assert after_first_factor(MANDATORY_TOTP, user(prompted=True)).to_state == "totp_setup"

    def test_user_controlled_offers_setup_with_skip_once(self):
        route = after_first_factor(CONTROLLED_BOTH, user())
        assert route.to_state == "factor_selection" and route.skippable and route.rule == "setup.offered"

    def test_user_controlled_after_the_prompt_is_done(self):
        route = after_first_factor(CONTROLLED_TOTP, user(prompted=True))
        assert route.to_state == "done" and route.rule == "done.already_prompted"


class TestAfterSetup:
    def test_backup_codes_follow_when_enabled_and_none_unused(self):
        assert after_setup(CONTROLLED_TOTP, has_unused_backup_codes=False).to_state == "backup_codes"

    def test_no_new_codes_when_unused_ones_exist(self):
        assert after_setup(CONTROLLED_TOTP, has_unused_backup_codes=True).to_state == "done"

    def test_done_when_backup_codes_are_disabled(self):
        assert after_setup(MANDATORY_TOTP, has_unused_backup_codes=False).to_state == "done"


class TestConfiguration:
    def test_backup_codes_need_a_primary_factor(self):
        with pytest.raises(PolicyError, match="backup_code cannot be enabled without a primary factor"):
            MfaConfig(("backup_code",), "mandatory")

    def test_unknown_factors_and_policies_are_refused(self):
        with pytest.raises(PolicyError, match="unknown factor 'sms'"):
            MfaConfig(("sms",), "mandatory")
        with pytest.raises(PolicyError, match="unknown policy 'sometimes'"):
            MfaConfig(("totp",), "sometimes")

    def test_factors_are_kept_in_one_canonical_order(self):
        assert MfaConfig(("backup_code", "webauthn", "totp"), "mandatory").factors == ("totp", "webauthn", "backup_code")


# --- Every rule, with the exact name it writes into the transition log ----------------------

BOTH_WITH_CODES = ("totp", "webauthn", "backup_code")


@pytest.mark.parametrize(
    "config,who,route",
    [
        (MfaConfig(("totp",), "mandatory"), user(["totp"]),
         Route("totp_verify", "verify", ("totp",), rule="verify.only_factor")),
        (MfaConfig(("webauthn", "backup_code"), "user_controlled"), user(["webauthn"], prompted=True),
         Route("webauthn_verify", "verify", ("webauthn",), rule="verify.only_factor")),
        (MfaConfig(BOTH_WITH_CODES, "mandatory"), user(["webauthn"], codes=True, last_used="webauthn"),
         Route("webauthn_verify", "verify", ("webauthn", "backup_code"), preferred="webauthn", rule="verify.last_used")),
        (MfaConfig(BOTH_WITH_CODES, "mandatory"), user(["totp", "webauthn"], codes=True, last_used="totp"),
         Route("totp_verify", "verify", ("totp", "webauthn", "backup_code"), preferred="totp", rule="verify.last_used")),
        (MfaConfig(BOTH_WITH_CODES, "mandatory"), user(["totp", "webauthn"], codes=True),
         Route("factor_selection", "verify", ("totp", "webauthn", "backup_code"), rule="verify.choose")),
        (MfaConfig(("totp", "webauthn"), "user_controlled"), user(["webauthn", "totp"], last_used="sms"),
         Route("factor_selection", "verify", ("totp", "webauthn"), rule="verify.choose")),
        (MfaConfig((), "mandatory"), user(), Route("done", None, rule="done.no_factor_enabled")),
        (MfaConfig((), "user_controlled"), user(["totp"]), Route("done", None, rule="done.no_factor_enabled")),
        (MfaConfig(("totp",), "user_controlled"), user(prompted=True), Route("done", None, rule="done.already_prompted")),
        (MfaConfig(("totp",), "user_controlled"), user(),
         Route("totp_setup", "setup", ("totp",), skippable=True, rule="setup.offered")),
        (MfaConfig(("webauthn", "backup_code"), "user_controlled"), user(codes=True),
         Route("webauthn_setup", "setup", ("webauthn",), skippable=True, rule="setup.offered")),
        (MfaConfig(("totp", "webauthn"), "user_controlled"), user(),
         Route("factor_selection", "setup", ("totp", "webauthn"), skippable=True, rule="setup.offered")),
        (MfaConfig(("webauthn",), "mandatory"), user(prompted=True),
         Route("webauthn_setup", "setup", ("webauthn",), skippable=False, rule="setup.required")),
        (MfaConfig(BOTH_WITH_CODES, "mandatory"), user(),
         Route("factor_selection", "setup", ("totp", "webauthn"), skippable=False, rule="setup.required")),
    ],
    ids=["only-factor", "only-factor-controlled", "last-used-with-codes", "last-used-of-three", "choose-of-three",
         "choose-unknown-last-used", "no-factor-enabled", "no-factor-enabled-ignores-enrolled", "already-prompted",
         "offered-single-factor-skippable", "offered-webauthn", "offered-choice", "required-single", "required-choice"],
)
def test_after_first_factor_routes_and_names_each_rule(config, who, route):
    assert after_first_factor(config, who) == route


@pytest.mark.parametrize(
    "config,unused_codes,route",
    [
        (MfaConfig(("totp", "backup_code"), "mandatory"), False, Route("backup_codes", "setup", rule="setup.backup_codes")),
        (MfaConfig(("totp", "backup_code"), "mandatory"), True, Route("done", "setup", rule="done.setup_complete")),
        (MfaConfig(("webauthn",), "user_controlled"), False, Route("done", "setup", rule="done.setup_complete")),
        (MfaConfig(("webauthn",), "user_controlled"), True, Route("done", "setup", rule="done.setup_complete")),
    ],
    ids=["codes-follow", "unused-codes-kept", "codes-disabled", "codes-disabled-unused"],
)
def test_after_setup_routes_and_names_each_rule(config, unused_codes, route):
    assert after_setup(config, has_unused_backup_codes=unused_codes) == route


@pytest.mark.parametrize(
    "mode,factor,state",
    [("setup", "totp", "totp_setup"), ("setup", "webauthn", "webauthn_setup"), ("verify", "totp", "totp_verify"),
     ("verify", "webauthn", "webauthn_verify"), ("verify", "backup_code", "backup_code_verify")],
)
def test_after_selection_sets_up_or_verifies_as_the_mode_says(mode, factor, state):
    assert after_selection(mode, factor) == state


def test_a_backup_code_cannot_be_selected_for_set_up():
    with pytest.raises(KeyError):
        after_selection("setup", "backup_code")


@pytest.mark.parametrize("choices,switch", [((), False), (("totp",), False), (("totp", "backup_code"), True),
                                             (("totp", "webauthn", "backup_code"), True)])
def test_switching_needs_another_factor_to_choose(choices, switch):
    assert can_switch(choices) is switch


@pytest.mark.parametrize(
    "rule,mode",
    [("verify.only_factor", ("verify", False)), ("verify.last_used", ("verify", False)),
     ("verify.choose", ("verify", False)), ("done.no_factor_enabled", (None, False)),
     ("done.already_prompted", (None, False)), ("setup.offered", ("setup", True)),
     ("setup.required", ("setup", False)), ("done.opted_out", (None, False)), ("done.no_prompt", (None, False)),
     ("done.no_prompt_at_sign_up", (None, False)), ("setup.other", (None, False)), ("", (None, False)),
     (None, (None, False)), (["setup.offered"], (None, False))],
)
def test_the_mode_a_logged_rule_implies(rule, mode):
    assert mode_of_rule(rule) == mode


class TestConfigurationDetails:
    def test_primary_factors_and_backup_codes(self):
        config = MfaConfig(("backup_code", "webauthn"), "user_controlled")
        assert (config.primary, config.backup_codes_enabled) == (("webauthn",), True)
        assert (MANDATORY_TOTP.primary, MANDATORY_TOTP.backup_codes_enabled) == (("totp",), False)

    def test_the_error_messages_say_what_to_choose(self):
        with pytest.raises(PolicyError) as unknown_factor:
            MfaConfig(("totp", "sms", "email"), "mandatory")
        assert str(unknown_factor.value) == "unknown factor 'sms'; choose from totp, webauthn, email_code, sms_code, backup_code"
        with pytest.raises(PolicyError) as unknown_policy:
            MfaConfig(("totp",), "optional")
        assert str(unknown_policy.value) == (
            "unknown policy 'optional'; choose one of mandatory, prompt_at_sign_in_and_sign_up,"
            " prompt_only_at_sign_in, no_prompt, prompt_at_sign_in_and_sign_up_mandatory,"
            " prompt_only_at_sign_in_mandatory, user_controlled"
        )
        with pytest.raises(PolicyError) as lonely:
            MfaConfig(("backup_code",), "user_controlled")
        assert str(lonely.value) == "backup_code cannot be enabled without a primary factor (totp or webauthn or email_code or sms_code)"

    def test_equal_configurations_compare_equal_whatever_the_order(self):
        assert MfaConfig(("webauthn", "totp"), "mandatory") == MfaConfig(("totp", "webauthn"), "mandatory")


# --- Properties over every configuration and user -------------------------------------------

ALL_CONFIGS = [
    MfaConfig(factors, policy)
    for factors in [(), ("totp",), ("webauthn",), ("totp", "webauthn"), ("totp", "backup_code"),
                    ("webauthn", "backup_code"), ("totp", "webauthn", "backup_code")]
    for policy in ("mandatory", "user_controlled")
]
ALL_USERS = [
    UserFactors(frozenset(enrolled), codes, prompted, last_used)
    for enrolled in [(), ("totp",), ("webauthn",), ("totp", "webauthn")]
    for codes in (False, True)
    for prompted in (False, True)
    for last_used in (None, "totp", "webauthn", "backup_code")
]
# Every configuration against every kind of user: the space is small enough to cover whole.
every_case = pytest.mark.parametrize("config", ALL_CONFIGS, ids=lambda c: f"{c.policy}:{'+'.join(c.factors)}")


@every_case
def test_every_route_is_one_the_log_can_explain(config):
    """The rule logged for a route gives back its mode and skip (the audit replay relies on it)."""
    for who in ALL_USERS:
        route = after_first_factor(config, who)
        assert mode_of_rule(route.rule) == (route.mode, route.skippable)


@every_case
def test_exactly_an_unprompted_user_without_factors_under_the_user_controlled_policy_may_skip(config):
    for who in ALL_USERS:
        route = after_first_factor(config, who)
        offered = config.policy == "prompt_at_sign_in_and_sign_up" and not who.prompted and config.primary
        assert route.skippable == bool(offered and not who.enrolled & set(config.primary))
        if route.skippable:
            assert route.mode == "setup" and route.rule == "setup.offered"


@every_case
def test_a_user_with_an_enabled_factor_always_verifies(config):
    for who in ALL_USERS:
        route = after_first_factor(config, who)
        enrolled = set(config.primary) & who.enrolled
        assert (route.mode == "verify") == bool(enrolled)
        if enrolled:
            assert set(route.choices) - {"backup_code"} == enrolled
            assert ("backup_code" in route.choices) == (config.backup_codes_enabled and who.has_unused_backup_codes)
            if route.to_state != "factor_selection":
                assert route.to_state == after_selection("verify", route.preferred or route.choices[0])


@every_case
def test_a_route_without_choices_finishes_and_one_with_choices_does_not(config):
    for who in ALL_USERS:
        route = after_first_factor(config, who)
        assert (route.to_state == "done") == (route.choices == ())
        assert route.preferred is None or route.preferred in route.choices
        if route.mode == "setup":
            assert route.choices == config.primary and route.to_state in ("factor_selection", f"{route.choices[0]}_setup")


# --- Account flows (purpose manage) -----------------------------------------------------------

def into_account_flow(config, who, *, mfa_proven):
    """The policy function for an account flow (``purpose: manage``)."""
    return after_first_factor(config, who, purpose=policy.MANAGE, mfa_proven=mfa_proven)


class TestAccountFlows:
    def test_a_user_without_factors_manages_at_once(self):
        route = into_account_flow(MANDATORY_BOTH, user(), mfa_proven=False)
        assert route == Route("manage", "manage", rule="manage.no_factor")

    def test_a_user_with_factors_steps_up_first_as_a_sign_in_would_verify(self):
        route = into_account_flow(MANDATORY_BOTH, user(["totp", "webauthn"], codes=True, last_used="webauthn"),
                                  mfa_proven=False)
        assert route == Route("webauthn_verify", "verify", ("totp", "webauthn", "backup_code"),
                              preferred="webauthn", rule="verify.last_used")

    def test_a_sign_in_that_proved_mfa_needs_no_step_up(self):
        route = into_account_flow(MANDATORY_TOTP, user(["totp"]), mfa_proven=True)
        assert route == Route("manage", "manage", rule="manage.mfa_proven")

    def test_the_user_controlled_policy_and_an_earlier_prompt_change_nothing(self):
        route = into_account_flow(CONTROLLED_TOTP, user(["totp"], prompted=True), mfa_proven=False)
        assert route.to_state == "totp_verify" and not route.skippable

    def test_factors_of_disabled_types_need_no_step_up(self):
        """E counts enabled types only: a factor that cannot sign in cannot step up either."""
        route = into_account_flow(MfaConfig(("webauthn",), "mandatory"), user(["totp"]), mfa_proven=False)
        assert route.rule == "manage.no_factor"

    def test_a_set_up_in_an_account_flow_leads_back_to_manage(self):
        assert after_setup(MANDATORY_TOTP, False, policy.MANAGE) == Route("manage", "manage",
                                                                           rule="manage.factor_added")
        assert after_setup(MANDATORY_BOTH, False, policy.MANAGE) == Route("backup_codes", "manage",
                                                                           rule="setup.backup_codes")
        assert after_setup(MANDATORY_BOTH, True, policy.MANAGE).to_state == "manage"


@every_case
def test_an_account_flow_steps_up_exactly_when_the_user_has_an_enabled_factor_and_mfa_is_unproven(config):
    for who in ALL_USERS:
        for proven in (False, True):
            route = into_account_flow(config, who, mfa_proven=proven)
            step_up = bool(set(config.primary) & who.enrolled) and not proven
            assert (route.mode == "verify") == step_up
            assert route.to_state == "manage" or route.to_state in MACHINE.into_account
            assert not route.skippable and route.to_state not in ("done", *MACHINE.setup_state.values())
            assert mode_of_rule(route.rule) == (route.mode, False), "the log names the rule the replay reads"


class TestSkipReDecided:
    """Issue 21, defect 5: a skip offered at the first factor is decided again when it comes."""

    def test_nothing_that_matters_changed(self):
        assert policy.skip_refusal(CONTROLLED_TOTP, user()) is None
        assert policy.skip_refusal(MfaConfig(("totp",), "no_prompt"), user(prompted=True)) is None

    def test_the_policy_became_mandatory(self):
        assert policy.skip_refusal(MANDATORY_TOTP, user()) == "the MFA policy is now mandatory"

    def test_the_user_was_made_required(self):
        required = UserFactors(frozenset(), False, False, None, required=True)
        assert policy.skip_refusal(CONTROLLED_TOTP, required) == "MFA is now required for this user (mfa.required)"

    def test_the_policy_became_one_whose_set_up_cannot_be_skipped(self):
        for name in policy.NO_SKIP_POLICIES:
            config = policy.MfaConfig.checked(MACHINE, ("totp",), name, adaptive=AdaptiveConfig(enabled=True))
            assert policy.skip_refusal(config, user()) == f"the MFA policy is now {name}, whose set-up cannot be skipped"

    def test_the_user_gained_a_factor_of_an_enabled_type(self):
        assert "enrolled a factor since (totp)" in (policy.skip_refusal(CONTROLLED_TOTP, user(["totp"])) or "")
        assert policy.skip_refusal(CONTROLLED_TOTP, user(["webauthn"])) is None, "not enabled: nothing to verify"
