"""Adaptive MFA in the pure core: its configuration and Logto's checks, the two no-skip
policies, each rule firing and not firing, and what the decision puts in the log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mfa_flow.domain import adaptive, policy
from mfa_flow.domain.adaptive import AdaptiveConfig, AdaptiveError, Assessment, History, Signals, SignIn
from mfa_flow.domain.policy import PolicyError, UserFactors
from mfa_flow.factors.registry import default

MACHINE = default().machine
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
ON = AdaptiveConfig.from_json({"enabled": True})
PARIS, NEW_YORK, BERLIN = (48.8566, 2.3522), (40.7128, -74.0060), (52.52, 13.405)


def config(factors=("totp",), policy_name=policy.PROMPT_AT_SIGN_IN_AND_SIGN_UP_MANDATORY, adaptive_config=ON):
    return policy.MfaConfig.checked(MACHINE, factors, policy_name, adaptive=adaptive_config)


def user(enrolled=("totp",), **kwargs) -> UserFactors:
    return UserFactors(frozenset(enrolled), False, False, None, **kwargs)


def only(rule: str, **settings) -> AdaptiveConfig:
    """Adaptive on with one rule enabled (with these thresholds)."""
    return AdaptiveConfig.from_json({"enabled": True, "rules": {
        name: {"enabled": name == rule, **(settings if name == rule else {})} for name in adaptive.RULES}})


def before(days=0.0, hours=0.0, **fields) -> SignIn:
    return SignIn(NOW - timedelta(days=days, hours=hours), **fields)


def history(*sign_ins: SignIn, failures: int = 0) -> History:
    ordered = tuple(sorted(sign_ins, key=lambda s: s.at, reverse=True))
    return History(ordered, ordered[0].at if ordered else None, failures)


class TestConfiguration:
    def test_off_by_default_with_the_contracts_thresholds(self):
        assert AdaptiveConfig().to_json() == {"enabled": False, "rules": {
            "new_country": {"enabled": True, "window_days": 180},
            "geo_velocity": {"enabled": True, "max_kmh": 900},
            "long_inactivity": {"enabled": True, "days": 30},
            "untrusted_ip": {"enabled": True, "min_bot_score": 30, "networks": []},
            "new_device": {"enabled": True},
            "failure_burst": {"enabled": True, "failures": 5, "minutes": 15}}}
        assert AdaptiveConfig.from_json(None) == AdaptiveConfig() == AdaptiveConfig.from_json({})

    def test_a_json_round_trip_keeps_every_setting(self):
        value = {"enabled": True, "rules": {"geo_velocity": {"enabled": False, "max_kmh": 500},
                                            "untrusted_ip": {"networks": ["10.0.0.1/8", "2001:db8::/32"]}}}
        read = AdaptiveConfig.from_json(value)
        assert read.rule("geo_velocity") == adaptive.RuleSetting("geo_velocity", False, (("max_kmh", 500),))
        assert read.rule("untrusted_ip").networks == ("10.0.0.0/8", "2001:db8::/32")
        assert AdaptiveConfig.from_json(read.to_json()) == read

    @pytest.mark.parametrize(("value", "field"), [
        ({"rules": {"geo_velocity": {"max_kmh": 0}}}, "adaptive.rules.geo_velocity.max_kmh"),
        ({"rules": {"failure_burst": {"minutes": True}}}, "adaptive.rules.failure_burst.minutes"),
        ({"rules": {"untrusted_ip": {"networks": ["10.0.0.0/8", "nowhere"]}}}, "adaptive.rules.untrusted_ip.networks[1]"),
        ({"rules": {"moon_phase": {}}}, "adaptive.rules.moon_phase"),
    ])
    def test_a_setting_out_of_range_names_its_field(self, value, field):
        with pytest.raises(AdaptiveError) as refused:
            AdaptiveConfig.from_json(value)
        assert refused.value.field == field and field.split(".")[-1].split("[")[0] in str(refused.value)


class TestLogtosChecks:
    @pytest.mark.parametrize("policy_name", policy.NO_SKIP_POLICIES)
    def test_adaptive_on_with_a_no_skip_policy_and_a_factor_holds(self, policy_name):
        assert config(policy_name=policy_name).adaptive.enabled

    def test_adaptive_needs_a_factor(self):
        with pytest.raises(PolicyError) as refused:
            config(factors=())
        assert refused.value.field == "factors"

    @pytest.mark.parametrize("policy_name", [p for p in policy.POLICIES if p not in policy.NO_SKIP_POLICIES])
    def test_adaptive_needs_a_no_skip_policy(self, policy_name):
        with pytest.raises(PolicyError) as refused:
            config(policy_name=policy_name)
        assert refused.value.field == "policy" and policy_name in str(refused.value)

    @pytest.mark.parametrize("policy_name", policy.NO_SKIP_POLICIES)
    def test_a_no_skip_policy_needs_adaptive(self, policy_name):
        with pytest.raises(PolicyError) as refused:
            config(policy_name=policy_name, adaptive_config=AdaptiveConfig())
        assert refused.value.field == "adaptive.enabled"


class TestNoSkipPolicies:
    """The contract's table: set-up without skip where it prompts; verify when adaptive says so."""

    @pytest.mark.parametrize(("policy_name", "sign_up", "expected"), [
        ("prompt_at_sign_in_and_sign_up_mandatory", True, ("totp_setup", False, "setup.required")),
        ("prompt_at_sign_in_and_sign_up_mandatory", False, ("totp_setup", False, "setup.required")),
        ("prompt_only_at_sign_in_mandatory", True, ("done", False, "done.no_prompt_at_sign_up")),
        ("prompt_only_at_sign_in_mandatory", False, ("totp_setup", False, "setup.required")),
    ])
    def test_a_user_without_factors(self, policy_name, sign_up, expected):
        for prompted in (False, True):  # no "once per user": every sign-in until it is set up
            route = policy.after_first_factor(MACHINE, config(policy_name=policy_name),
                                              UserFactors(frozenset(), False, prompted, None), sign_up=sign_up)
            assert (route.to_state, route.skippable, route.rule) == expected

    @pytest.mark.parametrize("policy_name", policy.NO_SKIP_POLICIES)
    def test_a_user_with_factors_verifies_only_when_a_rule_fired(self, policy_name):
        calm, risky = Assessment(("new_country",)), Assessment(("new_country",), ({"rule": "new_country"},))
        cfg = config(policy_name=policy_name)
        assert policy.after_first_factor(MACHINE, cfg, user(), risk=calm).rule == "done.adaptive_no_risk"
        route = policy.after_first_factor(MACHINE, cfg, user(), risk=risky)
        assert (route.to_state, route.mode, route.rule) == ("totp_verify", "verify", "verify.adaptive")

    def test_the_opt_out_is_not_honoured(self):
        route = policy.after_first_factor(MACHINE, config(), user(skip_on_sign_in=True), risk=Assessment(()))
        assert route.rule == "done.adaptive_no_risk"
        assert policy.mandatory_for(config(), user())

    @pytest.mark.parametrize(("settings", "override"), [({"required": True}, "required"),
                                                         ({"organization": "org1"}, "organization")])
    def test_adaptive_never_waives_required_mfa(self, settings, override):
        route = policy.after_first_factor(MACHINE, config(), user(**settings), risk=Assessment(()))
        assert (route.to_state, route.override) == ("totp_verify", override)

    def test_nor_a_step_up(self):
        route = policy.after_first_factor(MACHINE, config(), user(), risk=Assessment(()), step_up=True)
        assert (route.to_state, route.override) == ("totp_verify", "step_up")

    def test_a_trusted_device_does_not_stand_in_for_a_fired_rule(self):
        risky = Assessment(("new_device",), ({"rule": "new_device"},))
        assert policy.after_first_factor(MACHINE, config(), user(), risk=risky, trusted_device=True).rule == \
            "verify.adaptive"
        assert policy.after_first_factor(MACHINE, config(), user(), risk=Assessment(()),
                                         trusted_device=True).rule == "done.trusted_device"

    def test_the_replay_knows_both_rules(self):
        assert policy.mode_of_rule("verify.adaptive") == ("verify", False)
        assert policy.mode_of_rule("done.adaptive_no_risk") == (None, False)


class TestRules:
    def test_with_no_signal_and_no_history_nothing_fires_and_the_missing_are_named(self):
        assessed = adaptive.evaluate(ON, Signals(), history(before(days=1)), NOW)
        assert assessed.evaluated == adaptive.RULES and not assessed.fired
        assert assessed.missing == ("new_country", "geo_velocity", "untrusted_ip", "new_device")

    def test_a_disabled_rule_is_not_evaluated(self):
        assessed = adaptive.evaluate(only("long_inactivity"), Signals(), History(), NOW)
        assert assessed.evaluated == ("long_inactivity",)

    def test_new_country(self):
        rule = only("new_country", window_days=180)
        seen = history(before(days=10, country="FR"), before(days=200, country="US"))
        assert adaptive.evaluate(rule, Signals(country="FR"), seen, NOW).fired == ()
        assert adaptive.evaluate(rule, Signals(country="US"), seen, NOW).fired == (
            {"rule": "new_country", "days": 180, "countries_seen": 1},)

    def test_geo_velocity_is_great_circle_speed(self):
        assert round(adaptive.great_circle_km(PARIS, NEW_YORK)) == 5837
        rule = only("geo_velocity", max_kmh=900)
        last = history(before(hours=2, latitude=PARIS[0], longitude=PARIS[1]))
        fired = adaptive.evaluate(rule, Signals(latitude=NEW_YORK[0], longitude=NEW_YORK[1]), last, NOW).fired
        assert fired == ({"rule": "geo_velocity", "speed_kmh": 2919, "distance_km": 5837, "hours": 2.0},)
        assert adaptive.evaluate(rule, Signals(latitude=BERLIN[0], longitude=BERLIN[1]), last, NOW).fired == ()
        slow = history(before(hours=8, latitude=PARIS[0], longitude=PARIS[1]))
        assert adaptive.evaluate(rule, Signals(latitude=NEW_YORK[0], longitude=NEW_YORK[1]), slow, NOW).fired == ()

    def test_geo_velocity_needs_both_positions(self):
        rule = only("geo_velocity")
        assert adaptive.evaluate(rule, Signals(latitude=1.0, longitude=2.0), history(before(hours=1)), NOW).missing \
            == ("geo_velocity",)

    def test_long_inactivity(self):
        rule = only("long_inactivity", days=30)
        assert adaptive.evaluate(rule, Signals(), history(before(days=29)), NOW).fired == ()
        assert adaptive.evaluate(rule, Signals(), history(before(days=45)), NOW).fired == (
            {"rule": "long_inactivity", "days": 45},)

    def test_untrusted_ip_by_score_and_by_network(self):
        rule = AdaptiveConfig.from_json({"enabled": True, "rules": {
            **{n: {"enabled": False} for n in adaptive.RULES},
            "untrusted_ip": {"min_bot_score": 30, "networks": ["203.0.113.0/24"]}}})
        seen = history(before(days=1))
        assert adaptive.evaluate(rule, Signals(bot_score=29), seen, NOW).fired == (
            {"rule": "untrusted_ip", "score": 29, "min_score": 30},)
        assert adaptive.evaluate(rule, Signals(bot_score=30), seen, NOW).fired == ()
        assert adaptive.evaluate(rule, Signals(ip="203.0.113.9"), seen, NOW).fired == (
            {"rule": "untrusted_ip", "network": 0},)
        assert adaptive.evaluate(rule, Signals(ip="198.51.100.1"), seen, NOW).fired == ()
        assert adaptive.evaluate(rule, Signals(ip="2001:db8::1"), seen, NOW).fired == ()

    def test_new_device(self):
        rule = only("new_device")
        seen = history(before(days=1, device=adaptive.device_digest("laptop")))
        assert adaptive.evaluate(rule, Signals(device_id="laptop"), seen, NOW).fired == ()
        assert adaptive.evaluate(rule, Signals(device_id="phone"), seen, NOW).fired == (
            {"rule": "new_device", "devices_seen": 1},)

    def test_failure_burst(self):
        rule = only("failure_burst", failures=5, minutes=15)
        assert adaptive.evaluate(rule, Signals(), history(before(days=1), failures=4), NOW).fired == ()
        assert adaptive.evaluate(rule, Signals(), history(before(days=1), failures=5), NOW).fired == (
            {"rule": "failure_burst", "failures": 5, "minutes": 15},)

    def test_the_first_sign_in_fires_nothing_but_new_device(self):
        signals = Signals(country="FR", latitude=1.0, longitude=1.0, device_id="d", bot_score=90)
        assessed = adaptive.evaluate(ON, signals, History(recent_failures=9), NOW)
        assert assessed.fired_rules == ["new_device"]

    def test_the_log_holds_numbers_never_an_address_a_city_or_coordinates(self):
        signals = Signals(ip="203.0.113.9", country="US", city="Springfield", latitude=NEW_YORK[0],
                          longitude=NEW_YORK[1], device_id="phone", bot_score=5)
        seen = history(before(days=40, country="FR", latitude=PARIS[0], longitude=PARIS[1]), failures=6)
        text = repr(adaptive.evaluate(ON, signals, seen, NOW).to_json())
        for secret in ("203.0.113", "Springfield", "40.71", "48.85", "phone", "US", "FR"):
            assert secret not in text


class TestSignals:
    def test_untrusted_text_is_parsed_or_left_unknown(self):
        parsed = Signals.parsed({"country": "fr", "latitude": "48.8", "longitude": "x", "bot_score": "12",
                                 "ip": "not an ip", "region": " "})
        assert parsed == Signals(country="FR", bot_score=12)
        assert Signals.parsed({"country": "XX"}).country is None

    def test_the_more_trusted_source_wins_field_by_field_and_a_position_whole(self):
        asserted = Signals(country="DE", latitude=1.0, longitude=2.0)
        proxy = Signals(country="FR", region="IDF", latitude=3.0, longitude=4.0, bot_score=50)
        assert asserted.merge(proxy) == Signals(country="DE", region="IDF", latitude=1.0, longitude=2.0, bot_score=50)
        assert Signals(latitude=1.0).merge(proxy).position == (3.0, 4.0)
