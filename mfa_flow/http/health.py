"""Liveness, readiness, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .. import metrics
from .auth import require_metrics_key
from .problems import Problem


async def healthz(request):
    return web.json_response({"status": "ok"})


async def readyz(request):
    try:
        await request.app["audit"].ping()
    except Exception:
        raise Problem(503, "not-ready", "Not ready", "the database does not answer") from None
    return web.json_response({"status": "ready"})


async def metrics_text(request):
    require_metrics_key(request, request.app["settings"].metrics_key)
    counts, deliveries = await request.app["audit"].counts()
    for state in request.app["flows"].machine.states:
        metrics.FLOWS_BY_STATE.labels(state).set(counts.get(state, 0))
    for status in ("pending", "succeeded", "failed"):
        metrics.WEBHOOK_DELIVERIES.labels(status).set(deliveries.get(status, 0))
    return web.Response(body=generate_latest(metrics.REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request):
    return web.json_response(request.app["openapi"])


def routes() -> list[web.RouteDef]:
    return [
        web.get("/healthz", healthz),
        web.get("/readyz", readyz),
        web.get("/metrics", metrics_text),
        web.get("/openapi.json", openapi),
    ]
