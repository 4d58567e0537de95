"""Email addresses and phone numbers are stored in one normal form and shown masked."""

import pytest

from mfa_flow.contacts import canonical_email, mask_email, mask_phone, normalise_email, normalise_phone


def test_an_email_address_is_stored_with_its_domain_lower_cased():
    assert normalise_email(" Alice@EXAMPLE.com ") == "Alice@example.com"


def test_spellings_of_one_mailbox_have_one_canonical_form_as_the_users_table_compares_them():
    spellings = {canonical_email(normalise_email(t)) for t in ("Alice@Example.com", "aLICE@example.COM", "alice@example.com")}
    assert spellings == {"alice@example.com"}


@pytest.mark.parametrize("text", ["", "alice", "alice@", "alice@localhost", "a b@example.com"])
def test_a_malformed_email_address_is_refused_with_a_reason(text):
    with pytest.raises(ValueError, match="is not a valid email address: "):
        normalise_email(text)


@pytest.mark.parametrize("text", ["+1 415 555 0142", "+1 (415) 555-0142", "+14155550142"])
def test_a_phone_number_is_stored_in_e164(text):
    assert normalise_phone(text) == "+14155550142"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("415 555 0142", "has no country code"),
        ("+1 555", "not a valid phone number for its country code"),
        ("+999 1234", "is not a phone number"),
        ("+", "is not a phone number"),
    ],
)
def test_a_phone_number_that_cannot_be_dialled_is_refused_with_the_fix(text, reason):
    with pytest.raises(ValueError, match=reason) as refused:
        normalise_phone(text)
    assert "international format" in str(refused.value)


def test_a_masked_email_address_keeps_its_first_letter_and_domain():
    assert mask_email("alice@example.com") == "a***@example.com"


@pytest.mark.parametrize(
    ("e164", "masked"), [("+14155550142", "+1 *** *** **42"), ("+442079460958", "+44 ** **** **58")]
)
def test_a_masked_phone_number_keeps_its_country_code_and_last_two_digits(e164, masked):
    assert mask_phone(e164) == masked
