"""Every benchmark in one go against one PostgreSQL, each figure beside its ceiling measured in
the same run, in one table (and JSON, to compare runs). Run as ``benchmarks/run --help``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from mfa_flow import __version__, logs, loops
from mfa_flow.passwords import profiles

from .benches import BENCHES, DEFAULT, OTHER_PASSWORD_PROFILES
from .environment import Environment, Options
from .report import Figure, markdown, say, table


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/run",
        description=(
            "Run mfa-flow's benchmarks against one PostgreSQL (a scratch database on DATABASE_URL's server, "
            "made and dropped; without DATABASE_URL an embedded one) and print one table: each figure beside "
            "the ceiling it is held against, measured in the same run (the bare aiohttp + asyncpg endpoint, "
            "pgbench with the same SQL, raw argon2 at the configured parameters). Progress goes to stderr. "
            "The machine's load average is printed with the figures: ratios measured in one run matter more "
            "than absolute figures."
        ),
        epilog="benchmarks: " + "; ".join(f"{name}: {text}" for name, (text, _) in BENCHES.items()),
    )
    parser.add_argument("--only", metavar="NAME[,NAME]",
                        help=f"run only these (default: {', '.join(DEFAULT)}; 'argon2' runs alone on request)")
    parser.add_argument("--quick", action="store_true",
                        help="short runs and 100 sockets, for development (figures are rough)")
    parser.add_argument("--big", action="store_true",
                        help="also measure with 1,000,000 flows stored (bulk-loads them: minutes)")
    parser.add_argument("--seconds", type=float, help="length of each timed run (default 10; --quick 2)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients (default 16)")
    parser.add_argument("--sockets", type=int, help="WebSockets open (default 1000; --quick 100)")
    parser.add_argument("--profile", metavar="DIR", type=Path,
                        help="profile the serving process with py-spy while it runs the transitions benchmark: a"
                        " flame graph (SVG) and the top entries go to DIR")
    parser.add_argument("--password-profile", metavar="PROFILE", action="append", dest="password_profiles",
                        help="an MFA_FLOW_PASSWORD_HASH value the passwords benchmark measures sign-ins/s at (repeat"
                        f" for several; default: {', '.join(default_password_profiles())})")
    parser.add_argument("--markdown", metavar="FILE", type=Path, help="also write the table in Markdown to FILE")
    parser.add_argument("--json", metavar="FILE",
                        help="also write the figures as JSON to FILE ('-': stdout, after the table)")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else DEFAULT
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHES)}")
    args.names = names
    for setting in args.password_profiles or ():
        try:
            profiles.parse(setting)
        except ValueError as exc:
            parser.error(f"--password-profile {exc}")
    args.password_profiles = tuple(args.password_profiles or default_password_profiles())
    return args


def default_password_profiles() -> list[str]:
    """The configured profile (MFA_FLOW_PASSWORD_HASH, else the default), then the others a team
    is likely to keep from its current identity provider, each cost once."""
    configured = os.environ.get("MFA_FLOW_PASSWORD_HASH") or profiles.DEFAULT
    chosen: dict[tuple, str] = {}
    for setting in (configured, *OTHER_PASSWORD_PROFILES):
        try:
            p = profiles.parse(setting)
        except ValueError:
            continue  # the run refuses it where it is used, naming it
        chosen.setdefault((p.variant, p.time_cost, p.memory_kib, p.parallelism), setting)
    return list(chosen.values())


def rss_figures(peaks: dict[str, float]) -> list[Figure]:
    """The serving processes' peak RSS: under HTTP and WebSocket load, and apart from it while
    passwords are checked (argon2 holds its memory cost, per thread, while it runs)."""
    figures = []
    for argon2, what in ((False, "server RSS under load (largest peak of one process)"),
                         (True, "server RSS while checking passwords (argon2's memory per thread)")):
        chosen = {label: mb for label, mb in peaks.items() if label.startswith("password") == argon2}
        if chosen:
            label, peak = max(chosen.items(), key=lambda item: item[1])
            figures.append(Figure("rss", what, peak, "MB", ceiling_label=f"during {label}",
                                  target="≤ 100 MB per process", met=peak <= 100, details={"peaks_mb": chosen}))
    return figures


async def database_version(env: Environment) -> str | None:
    if env.where == "none":
        return None
    conn = await asyncpg.connect(await env.database_url())
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


async def run(args: argparse.Namespace) -> dict:
    options = Options(
        quick=args.quick,
        big=args.big,
        clients=args.clients,
        seconds=args.seconds or (2.0 if args.quick else 10.0),
        warmup=0.5 if args.quick else 2.0,
        sockets=args.sockets or (100 if args.quick else 1000),
        profile=args.profile,
        password_profiles=args.password_profiles,
    )
    env = Environment(options)
    started = datetime.now(UTC)
    machine = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_start": load_average(),
        "event_loop": env.loop,
    }
    say(f"mfa-flow {__version__} benchmarks: {', '.join(args.names)}; {os.cpu_count()} cores, load average"
        f" {machine['load_average_start']}, event loop {env.loop}")
    figures: list[Figure] = []
    try:
        for name in args.names:
            print(f"== {name}", file=sys.stderr, flush=True)
            began = time.perf_counter()
            figures.extend(await BENCHES[name][1](env))
            say(f"({time.perf_counter() - began:.0f} s)")
        figures.extend(rss_figures(env.peak_rss_mb))
        machine["postgresql"] = await database_version(env)
    finally:
        machine["database"] = env.where
        await env.close()
    machine["load_average_end"] = load_average()
    return {
        "version": __version__,
        "started": started.isoformat(timespec="seconds"),
        "seconds": round((datetime.now(UTC) - started).total_seconds()),
        "options": {**options.__dict__, "profile": str(options.profile or "") or None, "benchmarks": args.names},
        "machine": machine,
        "figures": [f.as_json() for f in figures],
        "_figures": figures,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.WARNING)
    # The service's own log lines (of the commits the WebSocket benchmark makes in process).
    logs.configure(stream=open(os.devnull, "w"))  # noqa: SIM115  (for the whole run)
    # pgserver asks platformdirs for a runtime folder that root sessions do not have.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    result = loops.run(run(args), "auto")
    figures = result.pop("_figures")
    m = result["machine"]
    print(f"mfa-flow {result['version']} benchmarks, {result['started']} ({result['seconds']} s):"
          f" {m['cores']} cores, load average {m['load_average_start']} at the start and {m['load_average_end']}"
          f" at the end; PostgreSQL {m.get('postgresql') or '-'} ({m['database']}); event loop {m['event_loop']};"
          f" {'quick' if args.quick else 'full'} run, {args.clients} clients")
    print(table(figures))
    if args.markdown:
        args.markdown.write_text(markdown(figures) + "\n")
    if args.json == "-":
        print(json.dumps(result, indent=2))
    elif args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
