"""The retry policy: what one attempt's answer means, and when to try again. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from ..numbers import whole_number

MAX_RETRY_AFTER = 86400.0  # a receiver may ask for a pause, but not for a longer one than a day
TIMEOUT_SECONDS = 15.0
RESPONSE_EXCERPT = 1024  # bytes of a response body kept in the delivery log


@dataclass(frozen=True)
class Verdict:
    """What one attempt's answer means: ``succeeded``, ``pending`` (again after ``delay``
    seconds) or ``failed``; ``disable`` turns the endpoint off (it answered 410 Gone)."""

    status: str
    delay: float | None = None
    disable: bool = False


def judge(schedule: tuple[float, ...], tried_before: int, http_status: int | None,
          retry_after: float | None = None) -> Verdict:
    """``tried_before``: attempts already made in this round. ``http_status`` None: no
    answer (refused, unreachable, timed out). Entry i of the schedule is the wait before
    try i+1, so a schedule of n entries makes n tries."""
    if http_status is not None and 200 <= http_status < 300:
        return Verdict("succeeded")
    if http_status == 410:
        return Verdict("failed", disable=True)
    tried = tried_before + 1
    if tried >= len(schedule):
        return Verdict("failed")
    delay = schedule[tried]
    if http_status in (429, 503) and retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return Verdict("pending", delay)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After``: delay-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if (seconds := whole_number(value)) is not None:
        return float(seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True)
class Attempt:
    """What one POST got: an HTTP status, or an error when there was no answer."""

    http_status: int | None
    retry_after: float | None = None
    response: str | None = None
    error: str | None = None
