"""Liveness, readiness, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

import asyncio
import time
from typing import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .. import logs, metrics
from .auth import require_metrics_key
from .keys import AUDIT, DRAINING, FLOWS, OPENAPI, SETTINGS
from .problems import Problem


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


log = logs.get(__name__)


def _not_ready(detail: str) -> Problem:
    return Problem(503, "not-ready", "Not ready", detail, headers={"Retry-After": "1"}, retry_after=1)


async def readyz(request: web.Request) -> web.Response:
    """Ready: not draining, and a pooled connection answers on a primary (a database that
    takes writes: during a fail-over, until a standby is promoted, none does)."""
    if request.app[DRAINING]:
        raise _not_ready("the process is shutting down")
    try:
        primary = await request.app[AUDIT].ping()
    except Exception:
        raise _not_ready("the database does not answer") from None
    if not primary:
        raise _not_ready("the database is a read-only standby")
    return web.json_response({"status": "ready"})


class Gauges:
    """The gauges ``/metrics`` takes from the database (flows by state, deliveries by status,
    the audit tree), read at most once per ``refresh`` seconds by this process however often it
    is scraped: the scrapes in between, and those that arrive while a read runs, share its
    figures. A failed read keeps the last figures (the counters are served regardless) and is
    not retried before the next ``refresh``."""

    def __init__(self, refresh: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.refresh = refresh
        self.clock = clock
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    def _fresh(self) -> bool:
        return self._read_at is not None and self.clock() - self._read_at < self.refresh

    async def update(self, app: web.Application) -> None:
        if self._fresh():
            return
        async with self._lock:
            if self._fresh():  # another scrape read them while this one waited
                return
            self._read_at = self.clock()
            try:
                await self._read(app)
            except Exception:
                log.warning("metrics: the database's gauges could not be read; the last ones are shown",
                            exc_info=True)

    @staticmethod
    async def _read(app: web.Application) -> None:
        counts, deliveries = await app[AUDIT].counts()
        for state in app[FLOWS].machine.states:
            metrics.FLOWS_BY_STATE.labels(state).set(counts.get(state, 0))
        for status in ("pending", "succeeded", "failed"):
            metrics.WEBHOOK_DELIVERIES.labels(status).set(deliveries.get(status, 0))
        tree_size, rows_behind = await app[AUDIT].trail()
        metrics.AUDIT_TREE_SIZE.set(tree_size)
        metrics.AUDIT_ROWS_BEHIND.set(rows_behind)
        metrics.GAUGES_READ.set_to_current_time()


GAUGES = web.AppKey("gauges", Gauges)


async def metrics_text(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    require_metrics_key(request, settings.metrics_key, (settings.admin_key, settings.auditor_key))
    await request.app[GAUGES].update(request.app)
    return web.Response(body=generate_latest(metrics.REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    """The API's description, public and the same for everyone: readable from any origin (an
    online viewer, a code generator in a browser), with no credentials (``*`` never sends them)."""
    return web.json_response(request.app[OPENAPI], headers={"Access-Control-Allow-Origin": "*"})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/healthz", healthz),
        web.get("/readyz", readyz),
        web.get("/metrics", metrics_text),
        web.get("/openapi.json", openapi),
    ]
