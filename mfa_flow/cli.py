"""The ``mfa-flow`` command."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from . import __version__, logs
from .config import Settings


def _database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    from .store.db import embedded_url

    return embedded_url(settings.data_dir)


def cmd_serve(args) -> int:
    from aiohttp import web

    from .http.app import create_app

    settings = Settings.from_env()
    if args.host:
        settings.host = args.host
    if args.port:
        settings.port = args.port
    url = _database_url(settings)
    app = create_app(settings, url)
    print(f"mfa-flow {__version__} listening on http://{settings.host}:{settings.port}", file=sys.stderr)
    web.run_app(app, host=settings.host, port=settings.port, print=None, shutdown_timeout=8.0)
    return 0


def cmd_migrate(args) -> int:
    from .store.migrate import migrate

    settings = Settings.from_env(generate_keys=False)
    url = _database_url(settings)
    applied = asyncio.run(migrate(url, say=lambda m: print(m, file=sys.stderr)))
    print(f"{len(applied)} migration(s) applied; the schema is up to date", file=sys.stderr)
    return 0


def cmd_worker(args) -> int:
    from .worker import run_worker

    settings = Settings.from_env()
    url = _database_url(settings)
    print(f"mfa-flow {__version__} worker: webhook delivery and expiry sweeps", file=sys.stderr)
    asyncio.run(run_worker(settings, url, args.metrics_port))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mfa-flow",
        description="Multi-factor sign-in as an explicit, replayable state machine. "
        "Configuration comes from the environment (DATABASE_URL, MFA_FLOW_*); see the README.",
    )
    parser.add_argument("--version", action="version", version=f"mfa-flow {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run the HTTP API",
        description="Run the HTTP API (flows, management, health, metrics). Applies migrations first. "
        "Without DATABASE_URL, starts an embedded PostgreSQL under MFA_FLOW_DATA_DIR (default ./.mfa-flow).",
    )
    serve.add_argument("--host", help="address to listen on (env MFA_FLOW_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (env MFA_FLOW_PORT, default 8080)")
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
        default=int(os.environ.get("MFA_FLOW_WORKER_METRICS_PORT") or 0) or None,
        help="serve /metrics and /healthz on this port, on MFA_FLOW_HOST (env MFA_FLOW_WORKER_METRICS_PORT; default off)",
    )
    worker.set_defaults(run=cmd_worker)
    return parser


def main(argv: list[str] | None = None) -> int:
    logs.configure()
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
