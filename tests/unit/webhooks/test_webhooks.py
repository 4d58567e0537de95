"""Webhooks' pure rules: the events a change causes, signatures, the retry policy, addresses."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from functools import partial
from types import SimpleNamespace

import pytest
from standardwebhooks import Webhook

from mfa_flow.domain import flow as domain_flow
from mfa_flow.domain import machine
from mfa_flow.domain.events import FactorEnrolled, FactorRemoved, transition_events
from mfa_flow.domain.flow import Flow
from mfa_flow.domain.machine import Step
from mfa_flow.domain.users import User
from mfa_flow.factors.registry import default
from mfa_flow.http.courier import GuardedResolver
from mfa_flow.webhooks import addresses, delivery, messages, signing

take = partial(domain_flow.take, default().machine)
# The module's parts, under the one name these specifications use.
webhooks = SimpleNamespace(
    **{name: getattr(module, name) for module in (addresses, delivery, messages, signing)
       for name in dir(module) if not name.startswith("_")},
    GuardedResolver=GuardedResolver,
)


def flow_messages(flow, rows, user, *recorded):
    """The messages of the events a batch of rows causes, then of events recorded meanwhile."""
    return messages.to_messages([*transition_events(flow, rows, user), *recorded])


def factor_messages(change, user_id, factors, at):
    event = FactorEnrolled if change == "enrolled" else FactorRemoved
    return messages.to_messages(
        [event(user_id, t, v, None, at) if change == "enrolled" else event(user_id, t, v, at) for v, t in factors]
    )

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SCHEDULE = (0.0, 5.0, 300.0)


def a_flow(state: str = machine.FIRST_FACTOR) -> Flow:
    return Flow(id="0b5c3c6e-0000-4000-8000-000000000001", state=state, version=0, mode=None, user_id="u1",
                expires_at=NOW + timedelta(minutes=10), attempts_left=5, context={}, result=None, chain_head="",
                created_at=NOW, updated_at=NOW)


def a_user(locked_until=None) -> User:
    return User("u1", "ann", None, False, None, 0, locked_until, NOW)


def types(messages) -> list[str]:
    return [m.type for m in messages]


# --- which events a change causes ---------------------------------------------------------------


def test_a_transition_that_changes_state_is_announced():
    flow = a_flow()
    rows = [take(flow, Step("submit_password", "credentials_ok", "totp_setup"), "user", NOW)]
    [message] = flow_messages(flow, rows, a_user())
    assert message.type == "flow.transitioned" and message.ordering_key == f"flow:{flow.id}"
    assert message.data == {"flow_id": flow.id, "user_id": "u1", "seq": 1, "event": "submit_password",
                            "from_state": "first_factor", "to_state": "totp_setup", "actor": "user",
                            "at": "2026-11-27T12:00:00.000000Z"}
    assert message.id.startswith("msg_")


def test_a_rejected_attempt_is_not_announced():
    flow = a_flow("totp_verify")
    rows = [take(flow, Step("submit_totp", "proof_wrong", "totp_verify"), "user", NOW)]
    assert flow_messages(flow, rows, a_user()) == []


def test_the_last_wrong_attempt_announces_the_failure_and_the_lockout():
    flow = a_flow("totp_verify")
    user = a_user(locked_until=NOW + timedelta(minutes=15))
    rows = [take(flow, Step("submit_totp", "proof_wrong", "totp_verify"), "user", NOW),
            take(flow, Step("lock", "attempts_exhausted", "failed", {"reason": "user_locked"}), "user", NOW)]
    messages = flow_messages(flow, rows, user)
    assert types(messages) == ["flow.transitioned", "flow.failed", "user.locked"]
    assert messages[1].data["reason"] == "user_locked"
    assert messages[2].data == {"user_id": "u1", "flow_id": flow.id, "locked_until": "2026-11-27T12:15:00.000000Z"}


def test_completion_carries_amr_and_the_result_token_when_there_is_one():
    flow = a_flow("totp_verify")
    flow.result = {"amr": ["pwd", "otp", "mfa"], "token": "eyJ.x.y"}
    rows = [take(flow, Step("submit_totp", "proof_ok", "done"), "user", NOW)]
    completed = flow_messages(flow, rows, a_user())[-1]
    assert completed.type == "flow.completed"
    assert completed.data == {"flow_id": flow.id, "user_id": "u1", "amr": ["pwd", "otp", "mfa"], "token": "eyJ.x.y"}


def test_a_set_up_inside_a_flow_is_an_enrolment():
    flow = a_flow("totp_setup")
    data = {"rule": "done.setup", "factor": "totp", "enrolled": True, "verification_id": "v1"}
    rows = [take(flow, Step("submit_totp", "proof_ok", "backup_codes", data), "user", NOW)]
    # entering backup_codes issues a set, and the factor records its enrolment
    enrolled = FactorEnrolled("u1", "backup_code", "v2", flow.id, NOW)
    messages = flow_messages(flow, rows, a_user(), enrolled)
    assert types(messages) == ["flow.transitioned", "mfa.factor_enrolled", "mfa.factor_enrolled"]
    assert [(m.data["type"], m.data["verification_id"]) for m in messages[1:]] == [("totp", "v1"), ("backup_code", "v2")]


@pytest.mark.parametrize("to_state, event", [("expired", "flow.expired"), ("cancelled", "flow.cancelled")])
def test_every_terminal_state_has_its_event(to_state, event):
    flow = a_flow("factor_selection")
    step = Step("expire" if to_state == "expired" else "cancel", "always", to_state)
    assert types(flow_messages(flow, [take(flow, step, "system", NOW)], None)) == ["flow.transitioned", event]


def test_management_changes_are_ordered_per_user():
    [message] = factor_messages("removed", "u1", [("v1", "totp")], NOW)
    assert message.type == "mfa.factor_removed" and message.ordering_key == "user:u1"
    assert message.data == {"user_id": "u1", "type": "totp", "verification_id": "v1", "flow_id": None}


def test_a_factor_removed_in_an_account_flow_is_ordered_with_the_flow_and_names_it():
    [message] = messages.to_messages([FactorRemoved("u1", "totp", "v1", NOW, "flow-1")])
    assert (message.type, message.ordering_key) == ("mfa.factor_removed", "flow:flow-1")
    assert message.data == {"user_id": "u1", "type": "totp", "verification_id": "v1", "flow_id": "flow-1"}


# --- signatures ----------------------------------------------------------------------------------


def test_signatures_verify_with_the_standard_webhooks_library():
    secret = webhooks.new_secret()
    assert secret.startswith("whsec_") and len(secret) == len("whsec_") + 44
    payload = webhooks.body("flow.created", NOW, '{"flow_id": "f1"}')
    now = int(datetime.now(UTC).timestamp())
    headers = webhooks.sign_headers([secret], "msg_1", now, payload)
    assert Webhook(secret).verify(payload, headers) == {
        "type": "flow.created", "timestamp": "2026-11-27T12:00:00.000000Z", "data": {"flow_id": "f1"}}


def test_during_a_rotation_either_secret_verifies():
    old, new = webhooks.new_secret(), webhooks.new_secret()
    payload = b'{"type":"flow.created","timestamp":"t","data":{}}'
    headers = webhooks.sign_headers([new, old], "msg_2", int(datetime.now(UTC).timestamp()), payload)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(payload, headers)
    with pytest.raises(Exception):
        Webhook(webhooks.new_secret()).verify(payload, headers)


def test_the_body_is_the_same_bytes_on_every_attempt():
    one = webhooks.body("user.locked", NOW, '{"user_id": "u1"}')
    assert one == webhooks.body("user.locked", NOW, '{"user_id": "u1"}')
    assert json.loads(one)["data"] == {"user_id": "u1"}


# --- the retry policy ------------------------------------------------------------------------------


def test_2xx_succeeds():
    assert webhooks.judge(SCHEDULE, 0, 204) == webhooks.Verdict("succeeded")


def test_anything_else_is_retried_on_the_schedule_until_it_runs_out():
    assert webhooks.judge(SCHEDULE, 0, 500) == webhooks.Verdict("pending", 5.0)
    assert webhooks.judge(SCHEDULE, 1, None) == webhooks.Verdict("pending", 300.0)
    assert webhooks.judge(SCHEDULE, 2, 302) == webhooks.Verdict("failed")


def test_retry_after_is_honoured_on_429_and_503_only():
    assert webhooks.judge(SCHEDULE, 0, 429, retry_after=120) == webhooks.Verdict("pending", 120)
    assert webhooks.judge(SCHEDULE, 0, 503, retry_after=1) == webhooks.Verdict("pending", 5.0)
    assert webhooks.judge(SCHEDULE, 0, 500, retry_after=120) == webhooks.Verdict("pending", 5.0)
    assert webhooks.judge(SCHEDULE, 0, 429, retry_after=10**9).delay == webhooks.MAX_RETRY_AFTER


def test_410_gone_fails_at_once_and_disables_the_endpoint():
    assert webhooks.judge(SCHEDULE, 0, 410) == webhooks.Verdict("failed", disable=True)


def test_retry_after_reads_seconds_and_http_dates():
    assert webhooks.parse_retry_after("120", NOW) == 120
    assert webhooks.parse_retry_after("Fri, 27 Nov 2026 12:01:00 GMT", NOW) == 60
    assert webhooks.parse_retry_after("soon", NOW) is None
    assert webhooks.parse_retry_after(None, NOW) is None


# --- addresses -------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://example.com/hook", "ftp://example.com/", "https:///nohost",
                                 "https://user:pw@example.com/", "https://example.com:99999/"])
def test_only_https_urls_without_credentials_are_accepted(url):
    with pytest.raises(webhooks.UnsafeUrl):
        webhooks.check_url(url, allow_private=False)


def test_plain_http_needs_private_addresses_allowed():
    assert webhooks.check_url("http://127.0.0.1:8000/h", allow_private=True).plain_http
    assert webhooks.check_url("https://example.com/h", allow_private=False).port == 443


@pytest.mark.parametrize("address, reason", [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"), ("192.168.0.1", "private"),
    ("169.254.169.254", "metadata"), ("fe80::1", "link-local"), ("::ffff:127.0.0.1", "loopback"),
    ("100.64.0.1", "carrier-grade NAT"), ("fd12::1", "unique local"),
    # IPv6 addresses that carry an internal IPv4 address, and deprecated site-local ones
    ("64:ff9b::a00:1", "private"), ("2002:7f00:1::1", "loopback"), ("::7f00:1", "loopback"),
    ("fec0::1", "site-local"),
])
def test_private_addresses_are_refused_by_default(address, reason):
    assert reason in webhooks.address_refusal(address, allow_private=False)


@pytest.mark.parametrize("address, reason", [
    ("224.0.0.1", "multicast"), ("239.255.255.250", "multicast"), ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"), ("::ffff:224.0.0.1", "multicast"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"), ("0.1.2.3", "this network"),
    ("255.255.255.255", "broadcast"), ("240.0.0.1", "reserved"),
    ("192.0.2.1", "documentation"), ("198.51.100.7", "documentation"), ("203.0.113.9", "documentation"),
    ("2001:db8::1", "documentation"), ("3fff::1", "documentation"),
    ("198.18.0.1", "benchmarking"), ("198.19.255.1", "benchmarking"), ("2001:2::1", "benchmarking"),
    ("192.0.0.9", "IETF protocol assignment"), ("2001::1", "IETF protocol assignment"),
    ("192.88.99.1", "6to4 relay"), ("100::1", "discard-only"),
])
@pytest.mark.parametrize("allow_private", [False, True], ids=["default", "private allowed"])
def test_special_purpose_addresses_are_refused_whatever_the_settings(address, reason, allow_private):
    assert reason in webhooks.address_refusal(address, allow_private=allow_private)


# Issue 21, defect 9: IPv6 ranges that carry an IPv4 address were judged as IPv6 (and found
# public) unless they were IPv4-mapped, 6to4 or in 64:ff9b::/96.
@pytest.mark.parametrize("address, reason, carried", [
    ("::ffff:0:7f00:1", "loopback", "127.0.0.1, carried in the SIIT range ::ffff:0:0:0/96"),
    ("::ffff:0:a00:1", "private", "10.0.0.1, carried in the SIIT range"),
    ("::ffff:0:a9fe:a9fe", "metadata", "169.254.169.254, carried in the SIIT range"),
    ("::ffff:127.0.0.1", "loopback", "carried in the IPv4-mapped range ::ffff:0:0/96"),
    ("64:ff9b:1::7f00:1", "loopback", "127.0.0.1, carried in the NAT64 local-use prefix 64:ff9b:1::/48"),
    ("64:ff9b:1:7f00:0:100::", "loopback", "127.0.0.1, carried in the NAT64 local-use prefix"),  # a /48 prefix
    ("64:ff9b:1:0:a:0:100::", "private", "10.0.0.1, carried in the NAT64 local-use prefix"),  # a /64 prefix
    ("64:ff9b:1:c0:a8:100::", "private", "192.168.1.0, carried in the NAT64 local-use prefix"),  # a /56 one
    ("64:ff9b::7f00:1", "loopback", "carried in the NAT64 well-known prefix 64:ff9b::/96"),
    ("2002:a00:1::1", "private", "10.0.0.1, carried in the 6to4 range 2002::/16"),
    ("::a00:1", "private", "carried in the IPv4-compatible range"),
])
def test_an_ipv6_address_carrying_an_ipv4_address_is_judged_by_it(address, reason, carried):
    refusal = webhooks.address_refusal(address, allow_private=False)
    assert refusal is not None and reason in refusal and carried in refusal
    with pytest.raises(webhooks.UnsafeUrl, match=re.escape(carried)):
        webhooks.check_url(f"https://[{address}]/h", allow_private=False)
    # Allowing private addresses allows them as it allows the IPv4 address they carry; a
    # local-use NAT64 address is read at every prefix length, and one of its readings is in
    # 0.0.0.0/8 here (refused whatever the settings).
    allowed = webhooks.address_refusal(address, allow_private=True) is None
    assert allowed == (reason != "metadata" and not address.startswith("64:ff9b:1:"))


@pytest.mark.parametrize("address", ["::ffff:0:808:808", "64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8"])
def test_an_ipv6_address_carrying_a_public_ipv4_address_is_allowed(address):
    assert webhooks.address_refusal(address, allow_private=False) is None


def test_teredo_is_refused_whatever_it_carries():
    assert "IETF protocol assignment" in webhooks.address_refusal("2001:0:4136:e378:8000:63bf:3fff:fdd2", False)


@pytest.mark.parametrize("url, detail", [
    ("https://a..com/h", "label 2 of the host name is empty"),
    ("https://.example.com/h", "label 1 of the host name is empty"),
    (f"https://{'a' * 100}.com/h", "label 1 of the host name is 100 characters long; DNS allows at most 63"),
    (f"https://{'.'.join(['a' * 60] * 5)}/h", "the host name is 304 characters long; DNS allows at most 253"),
    ("https://-edge.example.com/h", "may not start or end with a hyphen"),
    ("https://under_score.example.com/h", "only letters, digits and hyphens"),
    ("https://xn--zz.example.com/h", "not a valid internationalised domain name"),
    ("https://1.2.3/h", "write an IPv4 address as four dotted decimal numbers"),
    ("https://2130706433/h", "write an IPv4 address as four dotted decimal numbers"),
    ("https://example.com:0/h", "port 0 cannot be connected to"),
    ("https://example.com:65536/h", "Port out of range"),
    ("https://exa mple.com/h", "a space or a control character"),
    ("https://example.com/h\x00", "a space or a control character"),
])
def test_a_host_that_is_no_dns_name_is_refused_with_what_is_wrong(url, detail):
    with pytest.raises(webhooks.UnsafeUrl, match=re.escape(detail)):
        webhooks.check_url(url, allow_private=False)


@pytest.mark.parametrize("url", ["https://example.com./h", "https://bücher.example/h", "https://EXAMPLE.com:8443/h",
                                 f"https://{'a' * 63}.example.com/h", "https://[2606:4700::1]/h"])
def test_valid_host_names_and_public_literals_pass(url):
    webhooks.check_url(url, allow_private=False)


@pytest.mark.parametrize("url", ["https://127.0.0.1:8443/x", "https://[::1]/x", "https://10.0.0.8/x",
                                 "https://[::ffff:127.0.0.1]/x", "https://224.0.0.1/x"])
def test_an_ip_literal_is_checked_with_the_url_for_no_resolver_sees_it(url):
    with pytest.raises(webhooks.UnsafeUrl, match="the host .* is a"):
        webhooks.check_url(url, allow_private=False)


def test_allowing_private_addresses_still_refuses_metadata_and_non_loopback_plain_http():
    assert webhooks.address_refusal("10.1.2.3", allow_private=True) is None
    assert "metadata" in webhooks.address_refusal("169.254.169.254", allow_private=True)
    assert "loopback" in webhooks.address_refusal("10.1.2.3", allow_private=True, plain_http=True)
    assert webhooks.address_refusal("127.0.0.1", allow_private=True, plain_http=True) is None
    assert webhooks.address_refusal("93.184.216.34", allow_private=False) is None


async def test_names_are_checked_after_resolution():
    with pytest.raises(webhooks.UnsafeUrl, match="resolves to"):
        await webhooks.resolve_checked(webhooks.check_url("https://localhost/", False), allow_private=False)
    resolver = webhooks.GuardedResolver(allow_private=False)
    with pytest.raises(webhooks.UnsafeUrl):
        await resolver.resolve("localhost", 443)
    await resolver.close()


@pytest.mark.parametrize("answer", ["::ffff:0:7f00:1", "64:ff9b:1::a00:1", "::ffff:10.0.0.1"])
async def test_at_connect_time_a_name_answering_an_address_that_carries_an_internal_one_is_refused(answer):
    """The worker's resolver (issue 21, defect 9): DNS answering an IPv6 address that carries
    an internal IPv4 address gets no connection."""

    class Answering:
        async def resolve(self, host, port=0, family=0):
            return [{"hostname": host, "host": answer, "port": port, "family": 10, "proto": 6, "flags": 0}]

        async def close(self):
            pass

    resolver = webhooks.GuardedResolver(allow_private=False)
    await resolver.close()
    resolver._inner = Answering()  # type: ignore[assignment]
    with pytest.raises(webhooks.UnsafeUrl, match=f"resolves to {re.escape(answer)}, a .*, carried in"):
        await resolver.resolve("receiver.example.com", 443)


def test_device_messages_are_ordered_per_user_and_never_carry_a_token():
    from mfa_flow.domain.events import DevicesRevoked, DeviceTrusted

    trusted, one, every = messages.to_messages([
        DeviceTrusted("u1", "d1", "f1", NOW + timedelta(days=30), NOW),
        DevicesRevoked("u1", "d1", 1, "admin", NOW),
        DevicesRevoked("u1", None, 3, "user_locked", NOW, "f2"),
    ])
    assert types([trusted, one, every]) == ["mfa.device_trusted", "mfa.device_revoked", "mfa.device_revoked"]
    assert {trusted.ordering_key, one.ordering_key, every.ordering_key} == {"user:u1"}
    assert trusted.data == {"user_id": "u1", "device_id": "d1", "flow_id": "f1", "expires_at": "2026-12-27T12:00:00.000000Z"}
    assert one.data == {"user_id": "u1", "reason": "admin", "count": 1, "flow_id": None, "device_id": "d1"}
    assert every.data == {"user_id": "u1", "reason": "user_locked", "count": 3, "flow_id": "f2", "all": True}
    assert {"mfa.device_trusted", "mfa.device_revoked"} <= set(messages.EVENT_TYPES)


def test_an_unlock_and_an_mfa_reset_are_messages_about_the_user():
    from mfa_flow.domain.events import MfaReset, UserUnlocked

    unlocked, reset = messages.to_messages([UserUnlocked("u1", NOW), MfaReset("u1", 3, NOW)])
    assert types([unlocked, reset]) == ["user.unlocked", "mfa.reset"]
    assert {unlocked.ordering_key, reset.ordering_key} == {"user:u1"}
    assert unlocked.data == {"user_id": "u1"} and reset.data == {"user_id": "u1", "factors_removed": 3}
    assert {"user.unlocked", "mfa.reset"} <= set(messages.EVENT_TYPES)
