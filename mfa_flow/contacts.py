"""Email addresses and phone numbers: checked, normalised, and masked for display.

A user's address or phone is stored in one normal form, so that equality, search and the
per-destination limits see one spelling: email addresses as `email-validator` normalises them
(the domain lower-cased and IDNA-checked; no DNS lookup: the service must not wait on the
network to accept a form), phone numbers as E.164 by `phonenumbers`. Both libraries are
maintained and encode rules (IDNA, numbering plans) that a regular expression would get wrong.
Pure functions: no I/O.
"""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

PHONE_HINT = "write it in international format, with + and the country code, such as +14155550123"


def normalise_email(text: str) -> str:
    """The address in its normal form; ``ValueError`` with a reason fit for the client."""
    try:
        return validate_email(text.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        # Never the text itself: a problem document does not repeat what the client sent.
        raise ValueError(f"is not a valid email address: {exc}") from None


def canonical_email(address: str) -> str:
    """A normalised address as one mailbox: lower-cased whole, as the users table compares
    addresses (``lower(email)``, its unique index). ``normalise_email`` keeps the local part's
    case (RFC 5321 lets a server tell ``Ann@`` from ``ann@``, and mail goes out as the user
    wrote it), but no mail system in use does, so anything counted per recipient (the
    per-destination code budget) counts this form: changing the case reaches the same inbox
    and must not buy a fresh budget."""
    return address.lower()


def normalise_phone(text: str) -> str:
    """The number in E.164 (``+14155550123``); ``ValueError`` with a reason fit for the client."""
    if not text.strip().startswith("+"):
        raise ValueError(f"has no country code: {PHONE_HINT}")
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise ValueError(f"is not a phone number: {PHONE_HINT}") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"is not a valid phone number for its country code: {PHONE_HINT}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# What ``phonenumbers`` says a number is (its numbering plan's ranges), by name: premium-rate
# and shared-cost numbers bill the sender, toll-free, UAN, voicemail and pager numbers take no
# text messages. MFA_FLOW_SMS_NUMBER_TYPES says which get codes.
PHONE_TYPES = {value: name.lower() for name, value in vars(phonenumbers.PhoneNumberType).items() if name.isupper()}
SMS_NUMBER_TYPES = ("mobile", "fixed_line_or_mobile", "fixed_line", "voip", "personal_number")


def phone_type(e164: str) -> str:
    """``mobile``, ``premium_rate``, ... (``PHONE_TYPES``) for a normalised number."""
    return PHONE_TYPES.get(phonenumbers.number_type(phonenumbers.parse(e164, None)), "unknown")


def mask_email(address: str) -> str:
    """``a***@example.com``: enough for the user to recognise the address, not to learn it."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"


def mask_phone(e164: str) -> str:
    """``+1 *** *** **42``: the country code and the last two digits, grouped as the country
    writes its numbers."""
    number = phonenumbers.parse(e164, None)
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    country, _, national = formatted.partition(" ")
    digits_left = sum(c.isdigit() for c in national)
    masked = []
    for char in national:
        if char.isdigit():
            digits_left -= 1
            masked.append(char if digits_left < 2 else "*")
        else:
            masked.append(" ")
    return f"{country} {''.join(masked)}"
