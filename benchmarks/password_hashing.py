"""What a password costs per sign-in: each MFA_FLOW_PASSWORD_HASH profile, and each algorithm an
imported user may still have until the first sign-in rehashes it.

For each: the time of one check on one thread (median), checks per second on a pool of one
thread per core (the service's hashing pool), and for imported digests the first sign-in's
cost (the check plus the new argon2id hash at the default profile). No database needed:

    .venv/bin/python benchmarks/password_hashing.py [--seconds 3] [--json]
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import bcrypt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mfa_flow.passwords import Hasher, digests, profiles  # noqa: E402

PASSWORD = "correct horse battery staple"

# Explicit costs measured beside the named profiles: OWASP's cheapest argon2id line (m=7 MiB,
# t=5), and argon2i at libsodium's "interactive" limits (t=4, m=32 MiB), the cost of digests a
# team may import from a system built on libsodium's argon2i and keep for new ones.
OTHER_PROFILES = ("argon2id:m=7168,t=5,p=1", "argon2i:m=32768,t=4,p=1")


def imported_digests() -> dict[str, tuple[str, str]]:
    """Digests as other systems make them, with those systems' usual costs."""
    salt = os.urandom(16)
    scrypt_key = hashlib.scrypt(PASSWORD.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    b64 = lambda raw: base64.b64encode(raw).decode().rstrip("=")  # noqa: E731
    pbkdf2_key = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), b"djangosalt", 870_000)
    return {
        "bcrypt, cost 10": ("bcrypt", bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10)).decode()),
        "bcrypt, cost 12": ("bcrypt", bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(12)).decode()),
        "scrypt, N=2^14 r=8 p=1": ("scrypt", f"$scrypt$ln=14,r=8,p=1${b64(salt)}${b64(scrypt_key)}"),
        "pbkdf2_sha256, 870,000 (Django 5)": (
            "pbkdf2_sha256", f"pbkdf2_sha256$870000$djangosalt${base64.b64encode(pbkdf2_key).decode()}"),
    }


def one_check_ms(check, seconds: float) -> tuple[float, float]:
    """Median wall time and median CPU time of one check, in ms (CPU of all threads: argon2 runs
    its lanes on threads of its own). On a busy machine the wall time grows with the load; the
    CPU time is what the check itself costs."""
    walls, cpus = [], []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(walls) < 5:
        started, cpu = time.perf_counter(), time.process_time()
        assert check()
        walls.append((time.perf_counter() - started) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def checks_per_second(check, seconds: float, threads: int) -> float:
    deadline = time.perf_counter() + seconds

    def loop(_: int) -> int:
        n = 0
        while time.perf_counter() < deadline:
            check()
            n += 1
        return n

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        done = sum(pool.map(loop, range(threads)))
    return done / (time.perf_counter() - started)


def cases() -> list[tuple[str, Callable[[], bool], Callable[[], bool] | None]]:
    """(what, one check, the first sign-in when it also rehashes)."""
    found: list[tuple[str, Callable[[], bool], Callable[[], bool] | None]] = []
    for setting in (*profiles.PROFILES, *OTHER_PROFILES):
        profile = profiles.parse(setting)
        hasher = Hasher(profile)
        digest = hasher.hash(PASSWORD)
        found.append((profile.describe(),
                      functools.partial(lambda h, d: h.check("argon2", d, PASSWORD).ok, hasher, digest), None))
    default = Hasher(profiles.PROFILES[profiles.DEFAULT])
    for name, (algorithm, digest) in imported_digests().items():
        found.append((f"imported {name}",
                      functools.partial(digests.verify, algorithm, digest, PASSWORD),
                      functools.partial(lambda a, d: default.check(a, d, PASSWORD).rehashed is not None,
                                        algorithm, digest)))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    threads = os.cpu_count() or 1
    rows = []
    for what, check, first_sign_in in cases():
        print(f"measuring {what} ...", file=sys.stderr)
        wall, cpu = one_check_ms(check, args.seconds)
        row = {"what": what, "check_ms": round(wall, 1), "check_cpu_ms": round(cpu, 1),
               "checks_per_s": round(checks_per_second(check, args.seconds, threads), 1)}
        if first_sign_in is not None:
            wall, cpu = one_check_ms(first_sign_in, args.seconds)
            row["first_sign_in_ms"], row["first_sign_in_cpu_ms"] = round(wall, 1), round(cpu, 1)
        rows.append(row)
    load = os.getloadavg()[0]
    if args.json:
        print(json.dumps({"threads": threads, "load_average": load, "rows": rows}, indent=2))
        return
    print(f"\n{threads} cores, load average {load:.1f} while measuring (wall time grows with it; CPU time hardly)")
    print(f"{'what':<52} {'one check (CPU)':>20} {f'checks/s, {threads} threads':>20} {'first sign-in (CPU)':>22}")
    for row in rows:
        first = (f"{row['first_sign_in_ms']:.0f} ms ({row['first_sign_in_cpu_ms']:.0f} ms)"
                 if "first_sign_in_ms" in row else "")
        print(f"{row['what']:<52} {row['check_ms']:>9.0f} ms ({row['check_cpu_ms']:.0f} ms)"
              f" {row['checks_per_s']:>20.1f} {first:>22}")


if __name__ == "__main__":
    main()
