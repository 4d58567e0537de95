"""Organisations: groups of users, one of which may require MFA of its members (Logto's
``organizationRequiredMfaPolicy``); how their names are checked and their lists paged. Pure:
no I/O.

A member of an organisation that requires MFA is treated as a user with ``mfa.required``
(``policy.UserFactors.organization``): the store reads the first such organisation with the
user, so a sign-in's decision costs no extra round trip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import InvalidInput
from .flow import canonical_id as canonical_uuid
from .flow import iso

NAME_MAX = 100
_CURSOR_PREFIX = "o1."  # a version, should the cursor ever need to carry more
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class Organization:
    id: str
    name: str
    require_mfa: bool
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "require_mfa": self.require_mfa, "created_at": iso(self.created_at)}

    def reference(self) -> dict[str, str]:
        """How a user's JSON names it."""
        return {"id": self.id, "name": self.name}


def checked_name(value: str) -> str:
    """An organisation's name as stored: without surrounding spaces, 1 to ``NAME_MAX``
    characters (the request's schema holds the length too), no control characters; else
    ``InvalidInput`` naming ``name``."""
    name = value.strip()
    if not name:
        raise InvalidInput("body.name: must not be empty or only spaces", field="name")
    if len(name) > NAME_MAX:
        raise InvalidInput(f"body.name: at most {NAME_MAX} characters (this one has {len(name)})", field="name")
    if _CONTROL.search(name):
        raise InvalidInput("body.name: must not contain control characters", field="name")
    return name


def canonical_id(value: str) -> str | None:
    """An organisation id in its canonical form, or None when it cannot be one (then no
    organisation has it: a 404, not a database error)."""
    return canonical_uuid(value) if len(value) <= 36 else None


def page_cursor(organization: Organization) -> str:
    """The opaque cursor of a page that ends with this organisation. Pages are in creation order
    (``created_at``, microseconds, then the id), which a rename does not change: a cursor stays
    valid while organisations come, go and are renamed."""
    micros = int(organization.created_at.timestamp()) * 1_000_000 + organization.created_at.microsecond
    return f"{_CURSOR_PREFIX}{micros}.{organization.id}"


def cursor_position(cursor: str) -> tuple[datetime, str]:
    """The (created_at, id) a cursor from ``page_cursor`` ends after, or ``InvalidInput``."""
    bad = InvalidInput("after: not a cursor this API gave (pass the 'next' of the previous page as it is)",
                       field="after")
    micros, _, organization_id = cursor.removeprefix(_CURSOR_PREFIX).partition(".")
    found = canonical_id(organization_id)
    if not cursor.startswith(_CURSOR_PREFIX) or found is None or not micros.isascii() or not micros.isdigit() \
            or len(micros) > 17:
        raise bad
    at = datetime.fromtimestamp(int(micros) // 1_000_000, UTC).replace(microsecond=int(micros) % 1_000_000)
    if f"{_CURSOR_PREFIX}{micros}.{found}" != cursor:
        raise bad
    return at, found
