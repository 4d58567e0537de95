"""The aiohttp application: wiring, start-up and shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import TYPE_CHECKING, AsyncIterator, Awaitable, Callable

from aiohttp import web

from .. import __version__, logs, loops, startup
from ..app.audit_keeper import IDLE_SECONDS
from ..app.flows import FlowService
from ..factors.registry import Registry
from ..live import ChangeFeed
from ..settings import Settings
from . import (
    audit,
    auth,
    factors,
    flows,
    headers,
    health,
    live,
    management,
    oidc,
    oidc_clients,
    pages,
    sign_in,
    sign_ins,
    webhooks,
)
from .connections import CONNECTION_LIMITS, ConnectionLimits, GuardedSite, connection_middleware
from .context import request_context_middleware
from .health import GAUGES, Gauges
from .keys import AUDIT, DRAINING, FEED, FLOWS, LIMITS, MANAGEMENT, OIDC, OPENAPI, SERVICES, SETTINGS, WEBHOOKS
from .organizations import routes as organization_routes
from .problems import mark_response_started, problems_middleware
from .validation import SCHEMAS, Schemas, declare_query_refusals, query_middleware

if TYPE_CHECKING:
    from ..app.services import Services

log = logs.get(__name__)

MAX_BODY_BYTES = 64 * 1024
# After an answer to a request whose body was not read to its end (a 408 for a body that
# trickled in, a body sent where none is read), aiohttp keeps reading and dropping it for
# ``lingering_time`` before it closes the connection: 10 s by default, more than a client
# that cannot finish its body deserves, so the 408's connection ends 2 s after the answer.
HANDLER_ARGS = {"lingering_time": 2.0}


async def _sweep_expired(app: web.Application) -> None:
    """Expire overdue flows now and then, so that none waits for a client to touch it; drop
    abuse-limit windows nobody reads any more, and trusted devices past their expiry."""
    service: FlowService = app[FLOWS]
    while True:
        await asyncio.sleep(app[SETTINGS].sweep_interval)
        try:
            await service.expire_overdue()
            await app[LIMITS].purge()
            await service.codes.send_queued()  # codes a process queued and could not send (it stopped)
            await service.codes.erase_expired()
            await app[MANAGEMENT].purge_expired_devices()
            await app[OIDC].purge()  # pushed requests and client assertions no longer usable
        except Exception:  # keep sweeping: one failure (a restart of the database) is not fatal
            log.exception("expiry sweep failed")


async def _checkpoint(app: web.Application) -> None:
    """Sign audit checkpoints every N rows or minutes, a batch at a time, while no worker keeps
    the audit trail (``app/audit_keeper.py``)."""
    settings: Settings = app[SETTINGS]
    services: Services = app[SERVICES]
    while True:
        await asyncio.sleep(min(IDLE_SECONDS, settings.checkpoint_seconds))
        try:
            await services.audit_keeper.tick()
        except Exception:  # keep going: a failed round is retried at the next one
            log.exception("audit checkpoint failed")


def create_app(settings: Settings, database_url: str, registry: Registry,
               start: "Callable[[Settings, str], Awaitable[Services]]") -> web.Application:
    """The application; ``start`` (the composition root's) builds the services at start-up."""
    app = web.Application(middlewares=[connection_middleware, request_context_middleware, problems_middleware,
                                       query_middleware],
                          client_max_size=MAX_BODY_BYTES, handler_args=HANDLER_ARGS)
    app[SETTINGS] = settings
    app[CONNECTION_LIMITS] = ConnectionLimits(settings)
    app[SCHEMAS] = Schemas(settings.schemas_dir, registry)
    app[OPENAPI] = declare_query_refusals(app[SCHEMAS].bundled(), app[SCHEMAS].query_parameters)
    headers.install(app)
    app[DRAINING] = False
    app[GAUGES] = Gauges(settings.metrics_refresh)
    app.on_response_prepare.append(mark_response_started)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        services = await start(settings, database_url)
        app[FLOWS] = services.flows
        app[MANAGEMENT] = services.management
        app[WEBHOOKS] = services.webhooks
        app[AUDIT] = services.audit
        app[LIMITS] = services.limits
        app[OIDC] = services.oidc
        app[SERVICES] = services
        app[FEED] = ChangeFeed(database_url)
        await app[FEED].start()
        await services.ensure_signing_key()
        tasks = [asyncio.create_task(_sweep_expired(app)), asyncio.create_task(_checkpoint(app))]
        yield
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await app[FEED].stop()
        await services.close()

    app.cleanup_ctx.append(lifecycle)
    app.add_routes(
        live.list_routes() + auth.routes() + health.routes() + management.routes() + flows.routes() + webhooks.routes()
        + audit.routes() + oidc.routes() + oidc_clients.routes() + sign_in.routes() + factors.routes()
        + organization_routes()
        + sign_ins.routes()
    )
    live.install(app)
    pages.install(app)
    return app


def run(app: web.Application, settings: Settings, reuse_port: bool = False) -> None:
    """Serve until Ctrl-C or SIGTERM (graceful: requests in flight finish), on the event loop
    ``MFA_FLOW_EVENT_LOOP`` chooses; ``reuse_port`` when several processes share the port.

    SIGTERM starts draining: /readyz answers 503 at once, so that load balancers stop sending
    new work, while requests are still served for ``MFA_FLOW_DRAIN_SECONDS``; then the
    graceful shutdown (streams close, handlers in flight finish). SIGINT stops at once."""

    def stop() -> None:
        raise web.GracefulExit()

    def drain() -> None:
        if not app[DRAINING]:
            app[DRAINING] = True
            log.info("draining: /readyz answers 503", drain_seconds=settings.drain_seconds)
            asyncio.get_running_loop().call_later(settings.drain_seconds, stop)

    async def handle_signals(_app: web.Application) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, drain)
        loop.add_signal_handler(signal.SIGINT, stop)

    app.on_startup.append(handle_signals)
    loop_name = loops.chosen(settings.event_loop)
    urls = page_urls(settings)

    def announce() -> None:
        log.info(f"mfa-flow {__version__} ready at {urls['url']} (Ctrl-C stops it)", **urls,
                 listening=f"{settings.host}:{settings.port}", pid=os.getpid(), loop=loop_name)

    loop = loops.factory(settings.event_loop)()
    asyncio.set_event_loop(loop)
    main = loop.create_task(_serve(app, settings, reuse_port, announce))
    try:
        loop.run_until_complete(main)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    except OSError as exc:  # the port cannot be had: one line that says what to do
        failure = startup.bind_failure(settings.host, settings.port, exc)
        if failure is None:
            raise
        raise failure from exc
    finally:
        try:
            if not main.done():
                main.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    loop.run_until_complete(main)
        finally:
            left = asyncio.all_tasks(loop)
            for task in left:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
    log.info("mfa-flow stopped", pid=os.getpid())


def page_urls(settings: Settings) -> dict[str, str]:
    """Where people open the pages: the first of MFA_FLOW_ORIGIN, by default http://localhost:<port>
    (the address passkeys work at), and the console, account page and API reference under it."""
    base = settings.origins[0].rstrip("/")
    return {"url": base + "/", "console": base + "/console", "account": base + "/account", "docs": base + "/docs"}


async def _serve(app: web.Application, settings: Settings, reuse_port: bool, announce: Callable[[], None]) -> None:
    """``web.run_app``'s work, with the connections guarded (``connections.py``). No access log:
    it would print query strings (?token= carries a flow token), and costs time."""
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=8.0, keepalive_timeout=75.0)
    await runner.setup()
    try:
        await GuardedSite(runner, settings.host, settings.port, app[CONNECTION_LIMITS], reuse_port).start()
        announce()  # once the socket is bound and start-up (migrations, keys) is done
        await asyncio.Event().wait()  # until SIGTERM or SIGINT (GracefulExit) cancels this task
    finally:
        await runner.cleanup()
