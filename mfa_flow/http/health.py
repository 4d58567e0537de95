"""Liveness, readiness, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .. import metrics
from .auth import require_metrics_key
from .problems import Problem


async def healthz(request):
    return web.json_response({"status": "ok"})


DRAINING = "mfa_flow.draining"


def _not_ready(detail: str) -> Problem:
    return Problem(503, "not-ready", "Not ready", detail, headers={"Retry-After": "1"}, retry_after=1)


async def readyz(request):
    """Ready: not draining, and a pooled connection answers on a primary (a database that
    takes writes: during a fail-over, until a standby is promoted, none does)."""
    if request.app[DRAINING]:
        raise _not_ready("the process is shutting down")
    try:
        primary = await request.app["audit"].ping()
    except Exception:
        raise _not_ready("the database does not answer") from None
    if not primary:
        raise _not_ready("the database is a read-only standby")
    return web.json_response({"status": "ready"})


async def metrics_text(request):
    require_metrics_key(request, request.app["settings"].metrics_key)
    counts, deliveries = await request.app["audit"].counts()
    for state in request.app["flows"].machine.states:
        metrics.FLOWS_BY_STATE.labels(state).set(counts.get(state, 0))
    for status in ("pending", "succeeded", "failed"):
        metrics.WEBHOOK_DELIVERIES.labels(status).set(deliveries.get(status, 0))
    tree_size, rows_behind = await request.app["audit"].trail()
    metrics.AUDIT_TREE_SIZE.set(tree_size)
    metrics.AUDIT_ROWS_BEHIND.set(rows_behind)
    return web.Response(body=generate_latest(metrics.REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request):
    """The API's description, public and the same for everyone: readable from any origin (an
    online viewer, a code generator in a browser), with no credentials (``*`` never sends them)."""
    return web.json_response(request.app["openapi"], headers={"Access-Control-Allow-Origin": "*"})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/healthz", healthz),
        web.get("/readyz", readyz),
        web.get("/metrics", metrics_text),
        web.get("/openapi.json", openapi),
    ]
