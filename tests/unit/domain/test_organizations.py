"""Organisation names and list cursors, as the domain checks them (no I/O)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from mfa_flow.domain.errors import InvalidInput
from mfa_flow.domain.organizations import Organization, canonical_id, checked_name, cursor_position, page_cursor


def test_a_name_loses_its_surrounding_spaces():
    assert checked_name("  Acme Inc. ") == "Acme Inc."


@pytest.mark.parametrize(("name", "detail"), [
    ("", "body.name: must not be empty or only spaces"),
    (" \u3000 ", "body.name: must not be empty or only spaces"),
    ("x" * 101, "body.name: at most 100 characters (this one has 101)"),
    ("a\x00b", "body.name: must not contain control characters"),
    ("a\x7fb", "body.name: must not contain control characters"),
])
def test_a_bad_name_is_refused_naming_the_field(name, detail):
    with pytest.raises(InvalidInput) as refused:
        checked_name(name)
    assert (refused.value.detail, refused.value.field) == (detail, "name")


def test_a_cursor_names_the_last_organisation_of_a_page_and_only_that():
    org = Organization(str(uuid.uuid4()), "Acme", False, datetime(2026, 12, 7, 22, 50, 1, 123456, tzinfo=UTC))
    assert cursor_position(page_cursor(org)) == (org.created_at, org.id)
    for bad in ("", org.id, "o1.", "o1.nope", "o1.12." + "x" * 36, page_cursor(org).replace("o1.", "o2."),
                page_cursor(org).upper(), page_cursor(org).replace(".", ".+", 1), "o1." + "9" * 18 + "." + org.id):
        with pytest.raises(InvalidInput):
            cursor_position(bad)


def test_an_id_that_cannot_be_an_organisations_is_none():
    assert canonical_id("0190F3C5-0000-7000-8000-000000000000") == "0190f3c5-0000-7000-8000-000000000000"
    assert canonical_id("nope") is None and canonical_id("x" * 1000) is None
