"""Trusted devices in the pure core: the setting, a device's verdict, and the policy's
``trusted_device`` branch (a device stands in for verification, never for set-up)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from mfa_flow.domain import devices, policy
from mfa_flow.domain.adaptive import AdaptiveConfig
from mfa_flow.domain.devices import DeviceTrust, TrustedDevice
from mfa_flow.domain.policy import Route, UserFactors
from mfa_flow.factors.registry import default

MACHINE = default().machine


def MfaConfig(factors, policy_name, trust=DeviceTrust()):  # noqa: N802 - stands for the class
    """A checked configuration; the no-skip policies come with adaptive MFA on, as they must."""
    adaptive = AdaptiveConfig(enabled=policy_name in policy.NO_SKIP_POLICIES)
    return policy.MfaConfig.checked(MACHINE, factors, policy_name, trust, adaptive)


after_first_factor = partial(policy.after_first_factor, MACHINE)
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def user(enrolled=(), codes=False, prompted=False, last_used=None) -> UserFactors:
    return UserFactors(frozenset(enrolled), codes, prompted, last_used)


def device(user_id="u1", expires_at=NOW + timedelta(days=30)) -> TrustedDevice:
    return TrustedDevice("d1", user_id, "f1", NOW - timedelta(days=1), expires_at, None)


class TestSetting:
    def test_off_for_thirty_days_by_default(self):
        assert DeviceTrust() == DeviceTrust(False, 30)
        assert DeviceTrust().to_json() == {"enabled": False, "days": 30}
        assert MfaConfig(("totp",), "mandatory").trusted_devices == DeviceTrust()

    @pytest.mark.parametrize("days", [1, 30, 365])
    def test_days_from_one_to_a_year(self, days):
        assert DeviceTrust(True, days).days == days

    @pytest.mark.parametrize("days", [0, -1, 366])
    def test_other_days_are_refused_with_the_range(self, days):
        with pytest.raises(ValueError, match=f"from 1 to 365, not {days}"):
            DeviceTrust(True, days)

    def test_the_setting_is_part_of_the_configuration(self):
        trusted = MfaConfig(("totp",), "mandatory", DeviceTrust(True, 7))
        assert trusted.trusted_devices == DeviceTrust(True, 7)
        assert trusted != MfaConfig(("totp",), "mandatory")


class TestVerdict:
    def test_a_live_device_of_the_user_is_honoured(self):
        assert device().verdict("u1", NOW) == devices.HONOURED

    def test_another_users_device_is_not(self):
        assert device(user_id="u2").verdict("u1", NOW) == devices.OTHER_USER

    def test_a_device_is_expired_from_its_expiry_on(self):
        assert device(expires_at=NOW).verdict("u1", NOW) == devices.EXPIRED
        assert device(expires_at=NOW + timedelta(microseconds=1)).verdict("u1", NOW) == devices.HONOURED

    def test_another_users_expired_device_is_first_of_all_not_theirs(self):
        assert device(user_id="u2", expires_at=NOW).verdict("u1", NOW) == devices.OTHER_USER

    def test_a_device_is_never_honoured_longer_than_the_days_configured_now(self):
        # Trusted a day ago for 30 days: a configuration of one day ends it now, of two does not.
        assert device().verdict("u1", NOW, days=1) == devices.EXPIRED
        assert device().verdict("u1", NOW, days=2) == devices.HONOURED


class TestPolicy:
    @pytest.mark.parametrize("policy_name", policy.POLICIES)
    @pytest.mark.parametrize("enrolled", [["totp"], ["totp", "webauthn"], ["webauthn"]])
    def test_a_trusted_device_stands_in_for_verification_under_every_policy(self, policy_name, enrolled):
        config = MfaConfig(("totp", "webauthn", "backup_code"), policy_name)
        route = after_first_factor(config, user(enrolled, codes=True, last_used="totp"), trusted_device=True)
        assert route == Route("done", None, rule="done.trusted_device", override="trusted_device")

    def test_without_a_trusted_device_the_user_verifies(self):
        route = after_first_factor(MfaConfig(("totp",), "mandatory"), user(["totp"]), trusted_device=False)
        assert route.to_state == "totp_verify" and route.rule == "verify.only_factor"

    @pytest.mark.parametrize("policy_name", policy.POLICIES)
    def test_never_for_set_up(self, policy_name):
        config = MfaConfig(("totp",), policy_name)
        assert after_first_factor(config, user(), trusted_device=True) == after_first_factor(config, user())
        assert after_first_factor(config, user(), trusted_device=True).rule != "done.trusted_device"

    def test_a_factor_of_a_type_no_longer_enabled_is_nothing_to_stand_in_for(self):
        config = MfaConfig(("webauthn",), "mandatory")
        route = after_first_factor(config, user(["totp"]), trusted_device=True)
        assert route.to_state == "webauthn_setup" and route.rule == "setup.required"

    def test_with_no_factor_enabled_the_flow_is_done_by_its_own_rule(self):
        route = after_first_factor(MfaConfig((), "mandatory"), user(["totp"]), trusted_device=True)
        assert route.rule == "done.no_factor_enabled"

    def test_the_audit_replay_knows_the_rule(self):
        assert "done.trusted_device" in policy.RULE_MODES
        assert policy.mode_of_rule("done.trusted_device") == (None, False)
