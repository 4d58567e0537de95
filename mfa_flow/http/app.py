"""The aiohttp application: wiring, start-up and shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timezone

from aiohttp import web

from .. import auditing, logs
from ..config import Settings
from ..crypto import SecretBox
from ..flows import FlowService
from ..live import ChangeFeed
from ..management import Management
from ..store import Database
from ..store.migrate import migrate
from ..webhooks import WebhookService
from . import audit, flows, health, live, management, pages, webhooks
from .problems import problems_middleware
from .validation import Schemas

log = logs.get("mfa_flow.http")

MAX_BODY_BYTES = 64 * 1024


async def _sweep_expired(app: web.Application) -> None:
    """Expire overdue flows now and then, so that none waits for a client to touch it."""
    service: FlowService = app["flows"]
    while True:
        await asyncio.sleep(app["settings"].sweep_interval)
        try:
            await service.expire_overdue()
        except Exception:  # keep sweeping: one failure (a restart of the database) is not fatal
            log.exception("expiry sweep failed")


async def _checkpoint(app: web.Application) -> None:
    """Sign audit checkpoints every N rows or minutes (one process at a time does it)."""
    settings: Settings = app["settings"]
    started = datetime.now(timezone.utc)
    while True:
        await asyncio.sleep(min(5.0, settings.checkpoint_seconds))
        try:
            await auditing.make_checkpoints(
                app["db"], app["flows"].keyring, settings.checkpoint_rows, settings.checkpoint_seconds, since=started,
                origin=settings.log_origin,
            )
        except Exception:  # keep going: a failed round is retried at the next one
            log.exception("audit checkpoint failed")


def create_app(settings: Settings, database_url: str) -> web.Application:
    app = web.Application(middlewares=[problems_middleware], client_max_size=MAX_BODY_BYTES)
    app["settings"] = settings
    app["schemas"] = Schemas(settings.schemas_dir)
    app["openapi"] = app["schemas"].bundled()

    async def lifecycle(app: web.Application):
        await migrate(database_url)
        db = await Database.connect(database_url)
        box = SecretBox(settings.secret_key)
        app["db"] = db
        app["flows"] = FlowService(db, settings, box)
        app["management"] = Management(db, settings, box, app["flows"].factors)
        app["webhooks"] = WebhookService(db, settings, box)
        app["feed"] = ChangeFeed(database_url)
        await app["feed"].start()
        async with db.unit_of_work() as uow:  # a signing key from the start, so the JWKS is never empty
            try:
                # Unsealing it also proves MFA_FLOW_SECRET_KEY is the key this database's secrets were
                # sealed with: better to refuse to start than to fail every sign-in at its last step.
                await app["flows"].keyring.signing_key(uow)
            except RuntimeError as exc:
                raise SystemExit(
                    f"{exc}. Start every process of one installation with the same MFA_FLOW_SECRET_KEY."
                ) from None
            await uow.commit()
        tasks = [asyncio.create_task(_sweep_expired(app)), asyncio.create_task(_checkpoint(app))]
        yield
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await app["feed"].stop()
        await db.close()

    app.cleanup_ctx.append(lifecycle)
    app.add_routes(
        health.routes() + management.routes() + flows.routes() + webhooks.routes() + audit.routes() + pages.routes()
    )
    live.install(app)
    return app
