"""Abuse limits as rules (the contract's "Abuse limits"): budgets, the sliding estimate, Retry-After,
and who is counted. Pure: the counters live in PostgreSQL (``store/limits.py``) and the service
that spends them is ``app/limits.py``.

Each budget is a sliding window, estimated from two fixed windows as many rate limiters do:
``estimate = previous window's hits x (the part of it still inside the sliding window) + this
window's hits``. It is smooth at window edges (a fixed window lets a client spend two budgets in
a moment around an edge) and needs only two counters per bucket.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass

from .errors import RateLimited

MINUTE = 60.0
HOUR = 3600.0


@dataclass(frozen=True)
class Budget:
    """``allowed`` hits per ``window`` seconds; 0 allows any number (the limit is off)."""

    name: str
    allowed: int
    window: float

    @property
    def off(self) -> bool:
        return self.allowed <= 0


def window_start(now: float, window: float) -> float:
    return math.floor(now / window) * window


def estimate(current: int, previous: int, elapsed: float, window: float) -> float:
    """Hits in the sliding window that ends now (``elapsed`` seconds into the fixed window)."""
    return previous * (1 - elapsed / window) + current


def retry_after(current: int, previous: int, elapsed: float, window: float, allowed: int) -> int:
    """Whole seconds until one more hit would be within ``allowed`` (if none comes meanwhile)."""
    if current + 1 <= allowed and previous > 0:
        # Still in this window: wait until enough of the previous one has slid out.
        wait = (1 - (allowed - current - 1) / previous) * window - elapsed
    elif current:
        # Only the next window helps: then this window's hits are the ones sliding out.
        wait = (window - elapsed) + max(0.0, 1 - (allowed - 1) / current) * window
    else:
        wait = 0.0
    return max(1, math.ceil(wait))


def client_key(address: str) -> str:
    """The address as counted: IPv6 by its /64 (the block one subscriber holds), IPv4 (and
    IPv4-mapped IPv6) as it is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address  # a unix socket or an odd transport: count it as what it says
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def username_key(username: str) -> str:
    """A username as counted: a digest, so that no username is stored with the counters."""
    return hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def check(budget: Budget, who: str, current: int, previous: int, elapsed: float) -> None:
    """Raise ``RateLimited`` when the sliding estimate is over the budget; ``who`` is what was
    counted ("address", "username" or "destination")."""
    if budget.off or estimate(current, previous, elapsed, budget.window) <= budget.allowed:
        return
    seconds = retry_after(current, previous, elapsed, budget.window, budget.allowed)
    per = "a minute" if budget.window == MINUTE else "an hour"
    # a destination receives codes; an address or a username sends requests
    what = "codes sent to this destination" if who == "destination" else f"{budget.name.replace('_', ' ')} from this {who}"
    raise RateLimited(
        f"too many {what} (at most {budget.allowed} {per});"
        f" try again in {seconds} seconds",
        retry_after=seconds,
        limit=budget.name,
    )
