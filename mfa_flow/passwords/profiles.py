"""argon2id cost profiles (``MFA_FLOW_PASSWORD_HASH``): what new password hashes cost.

Two named profiles and explicit parameters:

- ``rfc9106-low-memory``: RFC 9106's second recommended option (t=3, m=64 MiB, p=4), argon2-cffi's
  own default;
- ``owasp``: the OWASP Password Storage Cheat Sheet's first argon2id line (t=2, m=19 MiB, p=1);
- ``argon2id:t=<passes>,m=<KiB>,p=<lanes>``: any other choice, ``m`` in KiB as in the PHC string.

Hashes made with other parameters are rehashed at their user's next successful sign-in. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT = "rfc9106-low-memory"

# OWASP's cheapest argon2id line (m=7 MiB, t=5): explicit parameters must cost at least as much
# memory x passes, so that a typo cannot make every new hash cheap to crack.
_LEAST_KIB_PASSES = 7 * 1024 * 5
_MAX_KIB = 4 * 1024 * 1024  # 4 GiB
_MAX_PASSES = 100
_MAX_LANES = 64


@dataclass(frozen=True)
class Argon2Profile:
    """argon2id parameters for new hashes: passes, memory in KiB, lanes."""

    time_cost: int
    memory_kib: int
    parallelism: int
    name: str = ""  # the profile's name as configured; explicit parameters have none

    def describe(self) -> str:
        params = f"argon2id t={self.time_cost}, m={self.memory_kib} KiB, p={self.parallelism}"
        return f"{self.name} ({params})" if self.name else params


PROFILES = {
    "rfc9106-low-memory": Argon2Profile(3, 64 * 1024, 4, "rfc9106-low-memory"),
    "owasp": Argon2Profile(2, 19 * 1024, 1, "owasp"),
}

_EXPLICIT = re.compile(r"argon2id:t=(\d{1,6}),m=(\d{1,10}),p=(\d{1,4})")


def parse(text: str) -> Argon2Profile:
    """The profile ``text`` names, or ``ValueError`` saying what is accepted."""
    text = text.strip()
    if text in PROFILES:
        return PROFILES[text]
    found = _EXPLICIT.fullmatch(text.replace(" ", ""))
    if found is None:
        raise ValueError(f"must be {', '.join(PROFILES)} or argon2id:t=<passes>,m=<memory in KiB>,p=<lanes>,"
                         f" not {text!r}")
    t, m, p = (int(g) for g in found.groups())
    if not 1 <= p <= _MAX_LANES:
        raise ValueError(f"p (lanes) must be from 1 to {_MAX_LANES}, not {p}")
    if not 1 <= t <= _MAX_PASSES:
        raise ValueError(f"t (passes) must be from 1 to {_MAX_PASSES}, not {t}")
    if not 8 * p <= m <= _MAX_KIB:
        raise ValueError(f"m (memory, KiB) must be from 8 x p = {8 * p} to {_MAX_KIB} (4 GiB), not {m}")
    if m * t < _LEAST_KIB_PASSES:
        raise ValueError(f"m x t must be at least {_LEAST_KIB_PASSES} KiB-passes (OWASP's cheapest argon2id"
                         f" line, m=7168 KiB with t=5), not {m * t}: such hashes are too cheap to guess")
    return Argon2Profile(t, m, p)
