"""The ``mfa-flow`` command."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import textwrap
import time
import traceback
from datetime import UTC
from pathlib import Path
from typing import Any, Awaitable, Callable, TypeAlias

from . import __version__, bootstrap, logs, loops
from .app.services import Services
from .serving import WORKER_FLAG

# What ``add_subparsers`` returns: where the commands of one level are added.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def cmd_serve(args: argparse.Namespace) -> int:
    from .http.app import create_app, run

    settings = bootstrap.load_settings(host=args.host, port=args.port, workers=args.workers)
    url = bootstrap.database_url(settings)
    if settings.workers > 1 and not args.as_worker:
        from .serving import serve_workers
        from .store.migrate import migrate

        asyncio.run(migrate(url))  # once, before the workers start
        return serve_workers(settings, url)
    app = create_app(settings, url, bootstrap.registry(), bootstrap.start)
    run(app, settings, reuse_port=args.as_worker)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from .store.migrate import migrate

    settings = bootstrap.load_settings(keys=False)
    url = bootstrap.database_url(settings)
    applied = asyncio.run(migrate(url, say=lambda m: print(m, file=sys.stderr)))
    print(f"{len(applied)} migration(s) applied; the schema is up to date", file=sys.stderr)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    settings = bootstrap.load_settings()
    metrics_port = args.metrics_port if args.metrics_port is not None else _metrics_port_from_env()
    url = bootstrap.database_url(settings)
    loops.run(bootstrap.run_worker(settings, url, metrics_port), settings.event_loop)
    return 0


def _metrics_port_from_env() -> int | None:
    raw = os.environ.get("MFA_FLOW_WORKER_METRICS_PORT") or ""
    if not raw:
        return None
    if not raw.isdigit() or not 0 <= int(raw) <= 65535:
        raise SystemExit(f"MFA_FLOW_WORKER_METRICS_PORT must be a port number from 1 to 65535 (0 or unset: no metrics"
                         f" server), not {raw!r}")
    return int(raw) or None


def cmd_machine(args: argparse.Namespace) -> int:
    machine = bootstrap.registry().machine
    if args.format == "text":
        width = None if args.wide else args.width or (shutil.get_terminal_size().columns if sys.stdout.isatty() else None)
        print(fitted_table(machine, width), end="")
        return 0
    print({"mermaid": machine.mermaid, "dot": machine.dot}[args.format](), end="")
    return 0


def fitted_table(machine: Any, width: int | None) -> str:
    """The machine's table in ``width`` columns (None: one line per row, however long). The
    lists of states wrap inside their columns; on a terminal too narrow for four columns each
    row becomes a block of labelled lines."""
    text = machine.text()
    if width is None or max(map(len, text.splitlines())) <= width:
        return str(text)
    rows = [("event", "from", "guard", "to")] + [
        (event, ", ".join(sources), guard, ", ".join(destinations)) for event, sources, guard, destinations in machine.table
    ]
    event_w, guard_w = (max(len(row[i]) for row in rows) for i in (0, 2))
    room = width - event_w - guard_w - 6  # what the two lists of states share, two spaces apart
    longest_state = max(len(state) for row in rows[1:] for i in (1, 3) for state in row[i].split(", "))
    from_w = min(max(len(row[1]) for row in rows), room // 2)
    to_w = room - from_w
    if min(from_w, to_w) <= longest_state:  # too narrow for four columns: a block per row
        blocks = []
        for event, sources, guard, destinations in rows[1:]:
            lines = [textwrap.fill(f"{event} [{guard}]", width, subsequent_indent="    ")]
            for label, states in (("from", sources), ("to", destinations)):
                lines.append(textwrap.fill(states, width, initial_indent=f"  {label:<4}  ", subsequent_indent=" " * 8,
                                           break_on_hyphens=False))
            blocks.append("\n".join(lines))
        return "\n".join(blocks) + "\n"
    out = []
    for event, sources, guard, destinations in rows:
        left = textwrap.wrap(sources, from_w, break_on_hyphens=False) or [""]
        right = textwrap.wrap(destinations, to_w, break_on_hyphens=False) or [""]
        for i in range(max(len(left), len(right))):
            cells = (event if i == 0 else "", left[i] if i < len(left) else "", guard if i == 0 else "",
                     right[i] if i < len(right) else "")
            out.append(f"{cells[0]:<{event_w}}  {cells[1]:<{from_w}}  {cells[2]:<{guard_w}}  {cells[3]}".rstrip())
    return "\n".join(out) + "\n"


def _with_services(work: Callable[[Services], Awaitable[Any]]) -> Any:
    """Run ``work(services)`` against the configured database, migrated first."""
    settings = bootstrap.load_settings()
    url = bootstrap.database_url(settings)

    async def run() -> Any:
        services = await bootstrap.start(settings, url, min_size=1, max_size=2)
        try:
            return await work(services)
        finally:
            await services.close()

    return asyncio.run(run())


class ProgressBar:
    """A one-line progress bar on stderr, shown only for large logs."""

    def __init__(self, unit: str, threshold: int, enabled: bool = True, width: int = 30):
        self.unit, self.threshold, self.enabled, self.width = unit, threshold, enabled, width
        self.started = time.perf_counter()
        self.shown = False

    def __call__(self, done: int, total: int | None) -> None:
        if not self.enabled or not total or total < self.threshold:
            return
        fraction = min(1.0, done / total)
        filled = int(fraction * self.width)
        rate = done / max(time.perf_counter() - self.started, 1e-9)
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (self.width - filled)}] {fraction:4.0%} {done:,}/{total:,} {self.unit}"
            f" ({rate:,.0f}/s)"
        )
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from .app import audit_feed as feed

    try:
        pinned = feed.load_jwks(args.jwks) if args.jwks else None
        if args.file:
            bar = ProgressBar("bytes", threshold=10_000_000, enabled=not args.no_progress)
            try:
                report = feed.verify_file(args.file, bootstrap.registry().machine, pinned, bar)
            finally:
                bar.close()
    except feed.UnreadableInput as exc:
        print(f"mfa-flow audit verify: {exc}", file=sys.stderr)
        return 2
    if not args.file:
        bar = ProgressBar("rows", threshold=50_000, enabled=not args.no_progress)
        report, _ = _with_services(lambda s: feed.verify_database(s.db, s.registry.machine, pinned, bar))
        bar.close()
    print(report.summary())
    return 0 if report.ok else 1


def cmd_audit_replay(args: argparse.Namespace) -> int:
    from .app import audit_feed as feed

    lines = _with_services(lambda s: feed.replay(s.db, s.registry.machine, args.flow_id))
    if lines is None:
        print(f"flow {args.flow_id} does not exist", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0 if lines[-1].startswith("chain and replay hold") else 1


def cmd_audit_export(args: argparse.Namespace) -> int:
    from .app import audit_feed as feed

    async def work(services: Services) -> int:
        if args.output == "-":
            return await feed.export(services.db, sys.stdout)
        with open(args.output, "w", encoding="utf-8") as out:  # noqa: ASYNC230  (the export streams into it)
            return await feed.export(services.db, out)

    count = _with_services(work)
    print(f"exported {count} transitions", file=sys.stderr)
    return 0


def cmd_audit_checkpoint(args: argparse.Namespace) -> int:
    bar = ProgressBar("rows", threshold=50_000, enabled=not args.no_progress)
    try:
        done = _with_services(lambda s: s.audit_keeper.catch_up(bar))
    finally:
        bar.close()
    made = done.checkpoints
    print(f"{len(made)} checkpoint(s) signed" + (f": {', '.join(map(str, made))}" if made else " (nothing new)"))
    head = done.tree_head
    print(f"{done.leaves_added} row(s) added to the Merkle tree; "
          + (f"tree head signed at size {head.tree_size}" if head else "no new tree head (the tree did not grow)"))
    return 0


def cmd_audit_purge(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from .app import audit_feed as feed

    async def work(s: Services) -> dict[str, Any]:
        return await feed.purge(s.db, s.keyring, timedelta(days=args.older_than_days), s.settings.log_origin)

    outcome = _with_services(work)
    print(
        f"purged {outcome['transitions']} transitions of {outcome['flows']} finished flows;"
        f" the log verifies from checkpoint {outcome['checkpoint']}"
    )
    return 0


def cmd_audit_prove(args: argparse.Namespace) -> int:
    import json

    from .app import audit_feed as feed
    from .app import transparency

    async def work(s: Services) -> dict[str, Any]:
        async with s.db.unit_of_work(isolation="repeatable_read", readonly=True) as uow:
            return await feed.prove_flow(uow, args.flow_id)

    try:
        bundle = _with_services(work)
    except transparency.NotInTree as exc:
        print(f"cannot prove flow {args.flow_id}: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}: {len(bundle['rows'])} row(s) of flow {bundle['flow']['id']} with their"
              f" inclusion proofs in the signed tree head", file=sys.stderr)
    return 0


def cmd_audit_verify_bundle(args: argparse.Namespace) -> int:
    import json

    from .audit import bundle

    try:
        document = json.loads(Path(args.bundle).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        print(f"FAILED: cannot read {args.bundle}: {exc}")
        return 1
    report = bundle.check(document, bootstrap.registry().machine, args.key)
    print(report.summary())
    return 0 if report.ok else 1


def cmd_audit_witness(args: argparse.Namespace) -> int:
    from .http import witness

    api_key = args.auditor_key or os.environ.get("MFA_FLOW_AUDITOR_KEY")
    if not api_key:
        print("the witness needs the auditor (or admin) key: --auditor-key or MFA_FLOW_AUDITOR_KEY", file=sys.stderr)
        return 2

    def say(line: str) -> None:
        print(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {line}", flush=True)

    return asyncio.run(witness.run(args.url, api_key, Path(args.state), args.key or [], args.once, args.interval, say))


def _keys_work(action: Callable[[Any, Any, Any], Awaitable[Any]]) -> Any:
    async def work(s: Services) -> Any:
        from datetime import datetime

        async with s.db.unit_of_work() as uow:
            result = await action(s.keyring, uow, datetime.now(UTC))
            await uow.commit()
        return result

    return _with_services(work)


def cmd_keys_list(args: argparse.Namespace) -> int:
    keys = _keys_work(lambda keyring, uow, now: keyring.every(uow))
    for key in keys:
        since = key.removed_at or key.retired_at or key.created_at
        print(f"{key.kid}  {key.status:<8} {key.key_type:<8} since {since.isoformat()}")
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    rotated = _keys_work(lambda keyring, uow, now: keyring.rotate(uow, now))
    for key_type, old, new in rotated:
        print(f"new {key_type} signing key {new}")
        if old:
            print(f"retired {old}: it stays in the JWKS until the tokens it signed have expired")
    return 0


def cmd_keys_remove(args: argparse.Namespace) -> int:
    removed = _keys_work(lambda keyring, uow, now: keyring.remove(uow, args.kid, now))
    if not removed:
        print(f"no key {args.kid} to remove", file=sys.stderr)
        return 2
    print(f"removed {args.kid}: no longer published; tokens it signed no longer verify")
    return 0


def _group(commands: Subcommands, name: str, help: str, description: str) -> Subcommands:
    """A command with subcommands (``mfa-flow audit verify``); returns its subparsers."""
    group = commands.add_parser(name, help=help, description=description)
    group.set_defaults(group_parser=group, run=None)  # alone, it lists its subcommands
    return group.add_subparsers(dest=f"{name}_command", metavar="SUBCOMMAND", title="subcommands")


def _audit_commands(commands: Subcommands) -> None:
    sub = _group(
        commands,
        "audit",
        "verify, replay, export and prove the transition log",
        "Check the transition log without trusting the service: hash chains, replay through the "
        "state machine, signed checkpoints, and the transparency log (Merkle tree heads, inclusion and "
        "consistency proofs). See docs/audit.md and docs/auditors.md.",
    )
    verify = sub.add_parser(
        "verify",
        help="re-check every chain, replay every flow, check checkpoints",
        description="Re-compute every flow's hash chain, replay its events through the machine's table, compare "
        "the final state and version with the flow row, and check the signed checkpoints. Exits 0 when all "
        "holds, 1 naming the first row that does not hold, 2 (one line on stderr naming the file and line) "
        "when the export or key file cannot be read as one.",
    )
    verify.add_argument("--file", help="verify an export (NDJSON from 'audit export') offline, without a database")
    verify.add_argument("--jwks", help="check checkpoint signatures with these public keys (a JWKS file) only")
    verify.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    verify.set_defaults(run=cmd_audit_verify)
    replay = sub.add_parser("replay", help="print a flow's timeline", description="Print a flow's timeline: "
                            "time, actor, event, from -> to, and why; then whether its chain and replay hold.")
    replay.add_argument("flow_id")
    replay.set_defaults(run=cmd_audit_replay)
    export = sub.add_parser("export", help="write the whole log as NDJSON",
                            description="Write keys, checkpoints, every transition (global order) and every "
                            "flow row as NDJSON, from one snapshot, for 'audit verify --file'.")
    export.add_argument("--output", "-o", default="-", help="file to write (default: standard output)")
    export.set_defaults(run=cmd_audit_export)
    checkpoint = sub.add_parser(
        "checkpoint", help="sign a checkpoint and a tree head now",
        description="Sign running-hash checkpoints up to the newest settled row, extend the Merkle tree with every "
        "settled row not in it yet (rows written before the upgrade included, in cursor order), and sign a tree "
        "head (a C2SP checkpoint, origin MFA_FLOW_LOG_ORIGIN) when the tree grew. Rows are settled once no older "
        "transaction is still running on the PostgreSQL server. A large backlog (after an upgrade, a restore or a "
        "bulk import) is taken MFA_FLOW_AUDIT_BATCH rows per transaction, with a progress bar; the worker does the "
        "same in the background, resting between batches.",
    )
    checkpoint.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    checkpoint.set_defaults(run=cmd_audit_checkpoint)
    prove = sub.add_parser(
        "prove",
        help="write one sign-in's proof bundle for offline checking",
        description="Write a self-contained proof bundle for one flow: its transition rows, each row's RFC 9162 "
        "inclusion proof in the latest signed tree head, that tree head (a C2SP checkpoint signed as a C2SP signed "
        "note with Ed25519) and the verifier key that signed it. Anyone can check it with 'audit verify-bundle', "
        "with no database and no network. Rows newer than the latest tree head cannot be proved yet: run "
        "'audit checkpoint' first. See docs/auditors.md.",
    )
    prove.add_argument("flow_id", metavar="FLOW_ID")
    prove.add_argument("--output", "-o", default="-", help="file to write (default: standard output)")
    prove.set_defaults(run=cmd_audit_prove)
    verify_bundle = sub.add_parser(
        "verify-bundle",
        help="check a proof bundle offline",
        description="Check a bundle from 'audit prove' with no database and no network: the tree head's "
        "signature, each row's inclusion proof against the signed root, the flow's hash chain, and the replay of "
        "its events through the state machine's table. Prints OK, or FAILED and the first thing that does not "
        "hold in one line (exit 1).",
    )
    verify_bundle.add_argument("bundle", metavar="BUNDLE", help="the bundle file (JSON)")
    verify_bundle.add_argument(
        "--key", help="the log's verifier key (<origin>+<key id>+<base64 key>) to trust; without it the bundle's own "
        "key is used, and you should compare it with the one GET /api/audit/log publishes",
    )
    verify_bundle.set_defaults(run=cmd_audit_verify_bundle)
    witness = sub.add_parser(
        "witness",
        help="follow the log's tree heads and alarm if it forks or shrinks",
        description="Follow a running service's signed tree heads over HTTP (GET /api/audit/log with the auditor "
        "key). Each new head's signature is checked with the pinned verifier key, and a consistency proof from "
        "the last head seen (RFC 9162) shows the log was only appended to. The last good head is kept in the "
        "state file. Exits 1 the moment the log forks, shrinks or serves a head that does not verify; exits 2 "
        "when the log cannot be reached with --once.",
    )
    witness.add_argument("--url", required=True, help="the service's base URL, e.g. https://mfa.example.com")
    witness.add_argument("--state", required=True, help="JSON file that keeps the last good tree head between runs")
    witness.add_argument(
        "--key", action="append", metavar="VERIFIER_KEY",
        help="the log's verifier key to trust (repeat for several); without it, the key of the first head seen is "
        "pinned in the state file (trust on first use)",
    )
    witness.add_argument("--auditor-key", help="API key for the audit endpoints (default: env MFA_FLOW_AUDITOR_KEY)")
    witness.add_argument("--once", action="store_true", help="check once and exit (0: the log is consistent)")
    witness.add_argument("--interval", type=float, default=60.0, help="seconds between checks (default 60)")
    witness.set_defaults(run=cmd_audit_witness)
    purge = sub.add_parser(
        "purge",
        help="remove old finished flows (retention), logged",
        description="Sign a checkpoint, then remove finished flows older than the given age whose rows all lie "
        "below it. The purge is recorded; 'audit verify' then resumes the running hash from that checkpoint.",
    )
    purge.add_argument("--older-than-days", type=float, required=True, help="age of the newest change of a flow")
    purge.set_defaults(run=cmd_audit_purge)


def _keys_commands(commands: Subcommands) -> None:
    sub = _group(
        commands,
        "keys",
        "manage the keys that sign result tokens and checkpoints",
        "The keys that sign result tokens, ID tokens and audit checkpoints (RSA, P-256 and Ed25519), stored in "
        "the database (private halves encrypted with MFA_FLOW_SECRET_KEY) and published at "
        "/.well-known/jwks.json.",
    )
    sub.add_parser(
        "list",
        help="list keys and their status",
        description="List every signing key: its key id (kid), status (active: signs now; retired: published "
        "until the tokens it signed expire; removed: withdrawn), type and since when.",
    ).set_defaults(run=cmd_keys_list)
    sub.add_parser(
        "rotate",
        help="add a new signing key of each type (RSA, P-256, Ed25519); the old ones stay published until"
             " their tokens expire",
        description="Add a new signing key of each type (RSA, P-256, Ed25519) and sign with it from now on. "
        "The keys it replaces are retired: they stay in the JWKS until the result tokens and ID tokens they "
        "signed have expired, so nothing already issued stops verifying. Rotate on a schedule, or after a staff "
        "change.",
    ).set_defaults(run=cmd_keys_rotate)
    remove = sub.add_parser(
        "remove",
        help="withdraw a key at once (a suspected leak)",
        description="Withdraw one key at once: it is no longer published, and every token it signed stops "
        "verifying now. For a key that may have leaked; run 'keys rotate' first when it is the active one.",
    )
    # Key ids are RFC 7638 thumbprints in base64url, so one may start with "-": argparse then
    # reads it as an option unless it follows "--".
    remove.add_argument("kid", help='the key id from "keys list"; write -- before an id that starts with -')
    remove.set_defaults(run=cmd_keys_remove)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mfa-flow",
        description="Multi-factor sign-in as an explicit, replayable state machine. "
        "Configuration comes from the environment (DATABASE_URL, MFA_FLOW_*); every setting is in docs/configuration.md.",
        epilog="Start with 'mfa-flow serve' (or scripts/serve). 'mfa-flow COMMAND --help' describes a command.",
    )
    parser.add_argument("--version", action="version", version=f"mfa-flow {__version__}")
    parser.add_argument("--debug", action="store_true", help="on a start-up failure, print the traceback too")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    serve = commands.add_parser(
        "serve",
        help="run the HTTP API",
        description="Run the HTTP API (flows, management, health, metrics). Applies migrations first. "
        "Without DATABASE_URL, starts an embedded PostgreSQL under MFA_FLOW_DATA_DIR (default ./.mfa-flow).",
    )
    serve.add_argument("--host", help="address to listen on (env MFA_FLOW_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (env MFA_FLOW_PORT, default 8080)")
    serve.add_argument(
        "--workers", type=int, metavar="N",
        help="serve processes sharing the port (SO_REUSEPORT), each a full serve process of the same database "
        "(env MFA_FLOW_WORKERS, default 1; see docs/performance.md)",
    )
    serve.add_argument(WORKER_FLAG, action="store_true", help=argparse.SUPPRESS)  # one of --workers N
    serve.set_defaults(run=cmd_serve)

    mig = commands.add_parser(
        "migrate",
        help="apply database migrations",
        description="Apply the SQL migrations that are missing, in order. Safe to run twice and from two "
        "processes at once (an advisory lock serialises them).",
    )
    mig.set_defaults(run=cmd_migrate)

    worker = commands.add_parser(
        "worker",
        help="deliver webhooks and expire overdue flows",
        description="Deliver webhooks from the outbox (retries per MFA_FLOW_WEBHOOK_RETRY_SCHEDULE) and run "
        "the expiry sweep. Run as many as you like on one database: they share the work.",
    )
    worker.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve /metrics and /healthz on this port, on MFA_FLOW_HOST (env MFA_FLOW_WORKER_METRICS_PORT; default off)",
    )
    worker.set_defaults(run=cmd_worker)

    machine = commands.add_parser(
        "machine",
        help="print the state machine's whole table, or a diagram of it",
        description="Print every row of the state machine's table (assembled from the core and the factors of "
        "this build): event, from states, guard, to states. --format mermaid or dot prints a diagram of every "
        "state and edge instead (docs/concepts/machine.md shows its Mermaid output).",
    )
    machine.add_argument("--format", choices=("text", "mermaid", "dot"), default="text",
                         help="text (default), mermaid (a Mermaid stateDiagram) or dot (Graphviz)")
    machine.add_argument("--wide", action="store_true",
                         help="text: one line per row, however wide (the default when the output is not a terminal)")
    machine.add_argument("--width", type=int, metavar="COLUMNS",
                         help="text: wrap the lists of states to fit this many columns (default: the terminal's width)")
    machine.set_defaults(run=cmd_machine)
    _audit_commands(commands)
    _keys_commands(commands)
    _everywhere(parser, "--debug", action="store_true", default=argparse.SUPPRESS,
                help="on a start-up failure, print the traceback too")
    return parser


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The parsers of a parser's subcommands, by name."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.update(action.choices)
    return found


def _everywhere(parser: argparse.ArgumentParser, *names: str, **options: Any) -> None:
    """An option every command and subcommand takes (``mfa-flow serve --debug`` as well as
    ``mfa-flow --debug serve``); SUPPRESS keeps a subcommand from overriding the top's value."""
    for sub in subcommands(parser).values():
        sub.add_argument(*names, **options)
        _everywhere(sub, *names, **options)


def main(argv: list[str] | None = None) -> int:
    logs.configure()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # ``mfa-flow`` alone: the commands, not an argparse error
        parser.print_help()
        return 0
    if getattr(args, "run", None) is None:  # ``mfa-flow keys``: that group's subcommands
        args.group_parser.print_help()
        return 0
    try:
        return int(args.run(args))
    except SystemExit as exc:
        # Settings and start-up failures (``startup.StartupFailure``) are one line on stderr:
        # ``--debug`` adds the traceback of what caused them.
        if args.debug and exc.__cause__ is not None:
            traceback.print_exception(exc.__cause__)
        if isinstance(exc.code, str):
            print(f"mfa-flow {_command_name(args)}: {exc.code}", file=sys.stderr)
            return 1
        raise
    except KeyboardInterrupt:  # Ctrl-C in a command without a handler of its own
        print(f"mfa-flow {_command_name(args)}: interrupted", file=sys.stderr)
        return 130


def _command_name(args: argparse.Namespace) -> str:
    sub = getattr(args, f"{args.command}_command", None)
    return f"{args.command} {sub}" if sub else args.command


if __name__ == "__main__":
    sys.exit(main())
