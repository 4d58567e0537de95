"""Abuse limits as pure rules: the sliding estimate, Retry-After, who is counted, and the refusal."""

from __future__ import annotations

import pytest

from mfa_flow.domain.errors import RateLimited
from mfa_flow.domain.limits import HOUR, MINUTE, Budget, check, client_key, estimate, retry_after, username_key


def test_the_estimate_slides_the_previous_window_out():
    assert estimate(current=5, previous=10, elapsed=0, window=60) == 15
    assert estimate(current=5, previous=10, elapsed=30, window=60) == 10
    assert estimate(current=5, previous=10, elapsed=60, window=60) == 5


@pytest.mark.parametrize(
    "current, previous, elapsed, allowed, expected",
    [
        (31, 0, 10, 30, 54),  # only the next window helps: 50 s to its start, then 2/31 of it
        (10, 30, 15, 30, 7),  # in this window: wait until enough of the previous slid out
        (1, 0, 59.5, 1, 61),  # a budget of one: the next window, all of it
    ],
)
def test_retry_after_is_when_one_more_hit_fits(current, previous, elapsed, allowed, expected):
    seconds = retry_after(current, previous, elapsed, 60, allowed)
    assert seconds == expected
    # One more hit then fits (the estimate moves on as time does; the window may roll over).
    later = elapsed + seconds
    if later < 60:
        assert estimate(current + 1, previous, later, 60) <= allowed
    else:
        assert estimate(1, current, later - 60, 60) <= allowed


def test_ipv6_clients_count_by_their_64_and_mapped_ipv4_as_ipv4():
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert client_key("192.0.2.1") == "192.0.2.1"


def test_usernames_are_counted_by_digest():
    assert username_key("alice") == username_key("alice") != username_key("Alice")
    assert "alice" not in username_key("alice")


def test_within_the_budget_nothing_is_refused():
    check(Budget("flows_created", 3, MINUTE), "address", current=3, previous=0, elapsed=10)


def test_over_the_budget_the_refusal_says_which_limit_and_when_to_come_back():
    with pytest.raises(RateLimited) as refused:
        check(Budget("codes_sent", 4, HOUR), "address", current=5, previous=0, elapsed=60)
    error = refused.value
    assert error.kind == "rate-limited"
    assert error.facts == {"retry_after": error.retry_after, "limit": "codes_sent"}
    assert 1 <= error.retry_after <= 2 * HOUR
    assert "codes sent from this address (at most 4 an hour)" in error.detail


def test_a_budget_of_zero_is_off():
    check(Budget("flows_created", 0, MINUTE), "address", current=10_000, previous=10_000, elapsed=0)
