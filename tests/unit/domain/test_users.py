"""Listing users: the search's phone form and the page cursor (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mfa_flow.domain.errors import InvalidInput
from mfa_flow.domain.users import User, UserSearch, cursor_username, page_cursor


@pytest.mark.parametrize("text, phone", [
    ("+1 (415) 555-01", "+141555501"),
    ("415.555", "+415555"),
    ("+44", "+44"),
    ("alice", None),
    ("a1", None),
    ("+", None),
    ("12+3", None),
])
def test_a_search_that_can_be_a_phone_number_is_compared_with_its_digits(text, phone):
    assert UserSearch.of(text) == UserSearch(text, phone)


@pytest.mark.parametrize("username", ["alice", "Zoë Ünïcode", "a/b c?d=e&f", "x" * 200, "🔑"])
def test_a_cursor_gives_back_the_username_it_was_made_from(username):
    cursor = page_cursor(username)
    assert cursor_username(cursor) == username
    assert all(c.isalnum() or c in "-_." for c in cursor), "safe in a query string as it is"


@pytest.mark.parametrize("cursor", ["", "u1.", "alice", "u2.YWxpY2U", "u1.YWxpY2U=", "u1.YW xpY2U", "u1.//8",
                                    "u1.AA"])
def test_anything_but_a_cursor_this_api_gave_is_refused_naming_after(cursor):
    with pytest.raises(InvalidInput, match="^after: not a cursor this API gave") as refused:
        cursor_username(cursor)
    assert refused.value.field == "after"


def _user(skip: bool, without_factor: bool) -> User:
    return User("u", "u", None, False, None, 0, None, datetime.now(UTC), mfa_skip_on_sign_in=skip,
                mfa_skip_without_factor=without_factor)


@pytest.mark.parametrize("skip, without_factor, has_factor, opted_out", [
    (False, False, True, False),
    (True, False, True, True),  # made with a factor proven, or by the admin
    (True, True, True, False),  # made without a factor: binds none the user has now
    (True, True, False, True),  # (and changes nothing while the user has none)
])
def test_an_opt_out_made_without_a_factor_never_stands_in_for_one(skip, without_factor, has_factor, opted_out):
    assert _user(skip, without_factor).opted_out(has_factor) is opted_out
