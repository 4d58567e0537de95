"""The rules the code factors share (pure): the code, its digest, entry, and when another may go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mfa_flow.factors.email_code import FACTOR as EMAIL
from mfa_flow.factors.sent_code import MAX_SENDS, Sends, code_digest, destination_key, entered, new_code, resend_refusal
from mfa_flow.factors.sms_code import FACTOR as SMS

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
FLOW_ENDS = NOW + timedelta(minutes=7, seconds=30)


def test_a_code_is_six_ascii_digits_and_codes_differ():
    codes = {new_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isascii() and c.isdigit() for c in codes)
    assert len(codes) > 190  # 20 bits each: repeats are rare


def test_entry_forgives_spaces_and_dashes_but_nothing_else():
    assert entered(" 123 456 ") == "123456" and entered("123-456") == "123456"
    for wrong in ("12345", "1234567", "12345a", "١٢٣٤٥٦", ""):
        assert entered(wrong) is None


def test_the_digest_is_keyed_and_bound_to_the_flow():
    pepper, other_pepper = b"p" * 32, b"q" * 32
    digest = code_digest(pepper, "flow-1", "123456")
    assert "123456" not in digest and len(digest) == 64
    assert digest == code_digest(pepper, "flow-1", "123456")
    assert digest != code_digest(pepper, "flow-2", "123456")
    assert digest != code_digest(other_pepper, "flow-1", "123456")


def test_a_destination_is_counted_by_a_digest_per_channel():
    key = destination_key("email", "a@example.com")
    assert "example" not in key and key != destination_key("sms", "a@example.com")


class TestResends:
    def test_the_first_code_goes(self):
        assert resend_refusal(Sends(0, None, False), NOW, 60, FLOW_ENDS) is None

    def test_a_resend_waits_for_the_gap_and_says_how_long(self):
        refused = resend_refusal(Sends(1, NOW - timedelta(seconds=20.5), False), NOW, 60, FLOW_ENDS)
        assert refused is not None and (refused.retry_after, refused.facts["limit"]) == (40, "code_resend")
        assert resend_refusal(Sends(1, NOW - timedelta(seconds=60), False), NOW, 60, FLOW_ENDS) is None

    def test_a_failed_send_starts_no_gap(self):
        assert resend_refusal(Sends(1, NOW - timedelta(seconds=1), True), NOW, 60, FLOW_ENDS) is None

    @pytest.mark.parametrize("failed", [False, True])
    def test_the_sixth_code_is_refused_until_the_flow_ends(self, failed):
        refused = resend_refusal(Sends(MAX_SENDS, NOW - timedelta(hours=1), failed), NOW, 60, FLOW_ENDS)
        assert refused is not None and refused.facts["limit"] == "codes_per_flow"
        assert refused.retry_after == 450


def test_both_factors_share_send_code_and_differ_in_what_they_send_to():
    assert EMAIL.schemas["SendCodeEvent"] is SMS.schemas["SendCodeEvent"]
    assert (EMAIL.amr, SMS.amr) == ("otp", "sms")
    assert (EMAIL.channel.field, SMS.channel.field) == ("email", "phone")
    assert EMAIL.states.system_events == SMS.states.system_events == ("code_delivery",)
