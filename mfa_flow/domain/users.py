"""Users and their factors, as the domain sees them; how a list of users is searched and paged.
Pure: no I/O."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime

from .errors import InvalidInput


@dataclass
class User:
    id: str
    username: str
    password_hash: str | None
    prompted: bool
    last_used_factor: str | None
    consecutive_failures: int
    locked_until: datetime | None
    created_at: datetime
    email: str | None = None  # normalised: lower-case domain
    phone: str | None = None  # E.164
    password_algorithm: str = "argon2"  # of password_hash: argon2, or an imported digest's
    mfa_required: bool = False  # treated as under the mandatory policy, whatever the policy
    mfa_skip_on_sign_in: bool = False  # opted out of verification at sign-in (where the policy allows)
    locale: str | None = None  # the language of the user's emails and SMS texts (None: the default)
    # The opt-out was made in an account flow while the user had no primary factor (so nobody
    # proved one to make it): it never holds for a user with a factor (``opted_out``).
    mfa_skip_without_factor: bool = False
    # The id of an organisation of the user's that requires MFA (the oldest, when several do):
    # then the user is treated as ``mfa_required``. Read with the user; never written through it.
    required_by_organization: str | None = None

    def opted_out(self, has_factor: bool) -> bool:
        """The opt-out as the rules read it for a user who has a primary factor or not: one
        made without a factor is bound to none, so it never stands in for a factor enrolled
        after it (enrolling one clears it too; this holds should the two race)."""
        return self.mfa_skip_on_sign_in and not (self.mfa_skip_without_factor and has_factor)

    def locked_at(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now

    def retry_after(self, now: datetime) -> int:
        """Whole seconds until the lock ends (at least 1), for ``Retry-After``."""
        assert self.locked_until is not None
        return max(1, int((self.locked_until - now).total_seconds() + 0.999))


@dataclass
class UserFactor:
    """One of a user's factors (the REST resource is ``mfa-verifications``)."""

    id: str
    user_id: str
    type: str
    name: str | None
    secret_sealed: str | None
    last_step: int | None
    salt: bytes | None
    created_at: datetime
    last_used_at: datetime | None
    remaining: int | None = None  # backup codes only
    aaguid: str | None = None  # webauthn only
    destination: str | None = None  # email_code: the address; sms_code: the phone (E.164)


# --- Listing users: a prefix search and keyset pages ----------------------------------------------

# Characters people type inside phone numbers, dropped before a search compares digits.
_PHONE_PUNCTUATION = re.compile(r"[\s().\-]")
_CURSOR_PREFIX = "u1."  # a version, should the cursor ever need to carry more than a username


@dataclass(frozen=True)
class UserSearch:
    """What ``GET /api/users?search=`` matches: a case-insensitive prefix of the username or the
    email (``text``), or a prefix of the E.164 phone number (``phone``, when the text can be one:
    digits with an optional ``+`` and the usual punctuation; ``"555 01"`` matches ``+55501...``)."""

    text: str
    phone: str | None

    @classmethod
    def of(cls, text: str) -> "UserSearch":
        digits = _PHONE_PUNCTUATION.sub("", text)
        phone = "+" + digits.removeprefix("+") if re.fullmatch(r"\+?[0-9]+", digits) else None
        return cls(text, phone)


def page_cursor(username: str) -> str:
    """The opaque cursor of a page that ends with this username (pages are ordered by username,
    which is unique and never changes, so a cursor stays valid while users come and go)."""
    return _CURSOR_PREFIX + base64.urlsafe_b64encode(username.encode()).decode().rstrip("=")


def cursor_username(cursor: str) -> str:
    """The username a cursor from ``page_cursor`` ends after, or ``InvalidInput``."""
    bad = InvalidInput("after: not a cursor this API gave (pass the 'next' of the previous page as it is)",
                       field="after")
    if not cursor.startswith(_CURSOR_PREFIX):
        raise bad
    encoded = cursor.removeprefix(_CURSOR_PREFIX)
    try:
        username = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, ValueError):
        raise bad from None
    if not username or page_cursor(username) != cursor or "\x00" in username:
        raise bad
    return username
