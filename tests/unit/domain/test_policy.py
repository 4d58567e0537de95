"""Rules 1, 2 and 5 of the contract, row by row."""

from __future__ import annotations

from functools import partial

import pytest

from mfa_flow.domain import policy
from mfa_flow.domain.policy import PolicyError, Route, UserFactors
from mfa_flow.factors.registry import default

MACHINE = default().machine
MfaConfig = partial(policy.MfaConfig.checked, MACHINE)
after_first_factor = partial(policy.after_first_factor, MACHINE)
after_setup = partial(policy.after_setup, MACHINE)


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
