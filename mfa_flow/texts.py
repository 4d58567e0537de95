"""The service's own texts (emails, SMS texts) in the user's language (issue 27, "Languages").

They live in the pages' message catalogues (``mfa_flow/web/i18n/<locale>.json``, keys ``email.*``
and ``sms.*``), so one test holds every locale to the same keys and placeholders. Plural forms
are the catalogues' ``<key>.<CLDR category>``; the categories of the six locales are below.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

CATALOGUES = Path(__file__).resolve().parent / "web" / "i18n"
LOCALES = ("en", "de", "fr", "es", "ja", "ar")
RIGHT_TO_LEFT = frozenset({"ar"})
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@cache
def catalogue(code: str) -> dict[str, str]:
    words: dict[str, str] = json.loads((CATALOGUES / f"{code}.json").read_text(encoding="utf-8"))
    return words


def plural_category(code: str, n: int) -> str:
    """CLDR plural category of a whole number ``n`` in ``code``."""
    if code == "ja":
        return "other"
    if code == "fr":
        return "one" if n in (0, 1) else "other"
    if code == "ar":
        if n == 0:
            return "zero"
        if n == 1:
            return "one"
        if n == 2:
            return "two"
        if 3 <= n % 100 <= 10:
            return "few"
        if 11 <= n % 100 <= 99:
            return "many"
        return "other"
    return "one" if n == 1 else "other"


def chosen(code: str | None, default: str) -> str:
    """``code`` if the service has texts in it, else ``default`` (else English)."""
    for candidate in (code, default):
        if candidate in LOCALES:
            return candidate
    return "en"


def offered(tags: str | None) -> str | None:
    """The first of space-separated language tags (OpenID Connect's ``ui_locales``) the service
    has texts in, a region falling back to its language (``de-CH``: ``de``); else None."""
    for tag in (tags or "").split():
        base = tag.lower().split("-")[0]
        if base in LOCALES:
            return base
    return None


def text(locale: str, key: str, /, **params: object) -> str:
    """The message ``key`` in ``locale`` (English when the catalogue lacks it), placeholders
    filled; with ``count`` in ``params``, the plural form for it."""
    words, english = catalogue(locale), catalogue("en")
    if "count" in params and isinstance(params["count"], int):
        form = f"{key}.{plural_category(locale, params['count'])}"
        key = form if form in words else f"{key}.other"
    template = words.get(key) or english[key]
    return _PLACEHOLDER.sub(lambda m: str(params.get(m.group(1), m.group(0))), template)
