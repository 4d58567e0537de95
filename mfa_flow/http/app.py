"""The aiohttp application: wiring, start-up and shutdown."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from .. import logs
from ..config import Settings
from ..crypto import SecretBox
from ..flows import FlowService
from ..live import ChangeFeed
from ..management import Management
from ..store import Database
from ..store.migrate import migrate
from ..webhooks import WebhookService
from . import flows, health, live, management, pages, webhooks
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
            expired = await service.expire_overdue()
            if expired:
                log.info("expiry sweep", expired=expired)
        except Exception:  # keep sweeping: one failure (a restart of the database) is not fatal
            log.exception("expiry sweep failed")


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
        sweeper = asyncio.create_task(_sweep_expired(app))
        yield
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        await app["feed"].stop()
        await db.close()

    app.cleanup_ctx.append(lifecycle)
    app.add_routes(health.routes() + management.routes() + flows.routes() + webhooks.routes() + pages.routes())
    live.install(app)
    return app
