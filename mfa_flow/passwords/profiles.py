"""argon2 cost profiles (``MFA_FLOW_PASSWORD_HASH``): what new password hashes cost.

Two named profiles and explicit parameters:

- ``rfc9106-low-memory``: RFC 9106's second recommended option (argon2id, t=3, m=64 MiB, p=4),
  argon2-cffi's own default;
- ``owasp``: the OWASP Password Storage Cheat Sheet's first argon2id line (t=2, m=19 MiB, p=1);
- ``argon2id:m=<KiB>,t=<passes>,p=<lanes>``: any other cost, written as the PHC string writes it
  (``m`` in KiB; the three in any order), so that a team keeps the cost its current identity
  provider uses: ``argon2id:m=19456,t=2,p=1`` is ``owasp``;
- ``argon2i:m=<KiB>,t=<passes>,p=<lanes>``: the same for argon2i, for a team whose imported
  digests are argon2i and that wants new hashes to stay what its other systems check.

Hashes made with other parameters (or the other variant) are rehashed at their user's next
successful sign-in. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT = "rfc9106-low-memory"
VARIANTS = ("argon2id", "argon2i")

# OWASP's cheapest argon2id line (m=7 MiB, t=5): explicit parameters must cost at least as much
# memory x passes, so that a typo cannot make every new hash cheap to crack.
_LEAST_KIB_PASSES = 7 * 1024 * 5
_MAX_KIB = 4 * 1024 * 1024  # 4 GiB
_MAX_PASSES = 100
_MAX_LANES = 64


@dataclass(frozen=True)
class Argon2Profile:
    """argon2 parameters for new hashes: passes, memory in KiB, lanes, and the variant."""

    time_cost: int
    memory_kib: int
    parallelism: int
    name: str = ""  # the profile's name as configured; explicit parameters have none
    variant: str = "argon2id"  # or "argon2i" (explicit parameters only)

    def describe(self) -> str:
        params = f"{self.variant} t={self.time_cost}, m={self.memory_kib} KiB, p={self.parallelism}"
        return f"{self.name} ({params})" if self.name else params

    @property
    def setting(self) -> str:
        """The value of ``MFA_FLOW_PASSWORD_HASH`` that chooses this profile."""
        return self.name or f"{self.variant}:m={self.memory_kib},t={self.time_cost},p={self.parallelism}"


PROFILES = {
    "rfc9106-low-memory": Argon2Profile(3, 64 * 1024, 4, "rfc9106-low-memory"),
    "owasp": Argon2Profile(2, 19 * 1024, 1, "owasp"),
}

ACCEPTED = (f"{', '.join(PROFILES)}, argon2id:m=<memory in KiB>,t=<passes>,p=<lanes>"
            " or argon2i:m=<memory in KiB>,t=<passes>,p=<lanes>")
_EXPLICIT = re.compile(r"(argon2id|argon2i):(.*)")
_PARAMETER = re.compile(r"([mtp])=(\d{1,10})")
_WHAT = {"m": "m (memory, KiB)", "t": "t (passes)", "p": "p (lanes)"}


def parse(text: str) -> Argon2Profile:
    """The profile ``text`` names, or ``ValueError`` saying in one line what is wrong and what is
    accepted (the caller puts the setting's name in front)."""
    raw = text
    text = text.strip()
    if text in PROFILES:
        return PROFILES[text]
    found = _EXPLICIT.fullmatch(text.replace(" ", ""))
    if found is None:
        raise ValueError(f"must be {ACCEPTED}, not {raw!r}")
    variant, listed = found.groups()
    values: dict[str, int] = {}
    for part in listed.split(","):
        parameter = _PARAMETER.fullmatch(part)
        if parameter is None:
            raise ValueError(f"{raw!r}: {part!r} is not m=<KiB>, t=<passes> or p=<lanes> (whole numbers)")
        key, number = parameter.groups()
        if key in values:
            raise ValueError(f"{raw!r}: {key} is given twice")
        values[key] = int(number)
    missing = [key for key in "mtp" if key not in values]
    if missing:
        raise ValueError(f"{raw!r}: {' and '.join(_WHAT[k] for k in missing)} missing; write"
                         f" {variant}:m=<KiB>,t=<passes>,p=<lanes>")
    m, t, p = values["m"], values["t"], values["p"]
    if not 1 <= p <= _MAX_LANES:
        raise ValueError(f"{raw!r}: p (lanes) must be from 1 to {_MAX_LANES}, not {p}")
    if not 1 <= t <= _MAX_PASSES:
        raise ValueError(f"{raw!r}: t (passes) must be from 1 to {_MAX_PASSES}, not {t}")
    if not 8 * p <= m <= _MAX_KIB:
        raise ValueError(f"{raw!r}: m (memory, KiB) must be from 8 x p = {8 * p} to {_MAX_KIB} (4 GiB), not {m}")
    if m * t < _LEAST_KIB_PASSES:
        raise ValueError(f"{raw!r}: m x t must be at least {_LEAST_KIB_PASSES} KiB-passes (OWASP's cheapest"
                         f" argon2id line, m=7168 KiB with t=5), not {m * t}: such hashes are too cheap to guess")
    return Argon2Profile(t, m, p, variant=variant)
