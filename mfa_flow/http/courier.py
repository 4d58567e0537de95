"""The HTTP side of webhook delivery and of the worker: an aiohttp client that posts signed
messages only to addresses it checked, and the worker's small metrics server."""

from __future__ import annotations

import socket
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .. import __version__, metrics
from ..webhooks.addresses import UnsafeUrl, address_refusal
from ..webhooks.delivery import RESPONSE_EXCERPT, TIMEOUT_SECONDS, Attempt, parse_retry_after
from .auth import require_metrics_key
from .problems import problems_middleware


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that refuses hosts resolving to refused addresses. The connection is
    made to the very addresses checked, so DNS cannot change its answer in between."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._inner = ThreadedResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            reason = address_refusal(result["host"], self.allow_private)
            if reason:
                raise UnsafeUrl(f"the host {host} resolves to {result['host']}, {reason}")
        return results

    async def close(self) -> None:
        await self._inner.close()


class Courier:
    """Posts webhook messages; one per worker process, shared by its couriers."""

    def __init__(self, allow_private: bool, concurrency: int) -> None:
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(allow_private), limit=concurrency)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS),
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={"User-Agent": f"mfa-flow-webhooks/{__version__}"},
        )

    async def post(self, url: str, payload: bytes, headers: dict[str, str], now: Any) -> Attempt:
        try:
            async with self._session.post(url, data=payload, headers=headers, allow_redirects=False) as response:
                excerpt = await response.content.read(RESPONSE_EXCERPT)
                retry_after = parse_retry_after(response.headers.get("Retry-After"), now())
                return Attempt(response.status, retry_after, excerpt.decode("utf-8", errors="replace"))
        except TimeoutError:
            return Attempt(None, error=f"no answer within {TIMEOUT_SECONDS:g} s")
        except (aiohttp.ClientError, OSError, ValueError) as exc:  # ValueError: a URL yarl cannot take
            cause = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else exc
            return Attempt(None, error=f"{type(cause).__name__}: {cause}"[:500])

    async def close(self) -> None:
        await self._session.close()


class MetricsServer:
    """``/metrics`` and ``/healthz`` of the worker process."""

    def __init__(self, metrics_key: str | None = None, readers: tuple[str, ...] = ()) -> None:
        self._runner: web.AppRunner | None = None
        self.metrics_key = metrics_key
        self.readers = readers  # the admin and auditor keys: they open /metrics while no metrics key is set

    async def start(self, host: str, port: int) -> None:
        async def metrics_text(request: web.Request) -> web.Response:
            require_metrics_key(request, self.metrics_key, self.readers)
            return web.Response(body=generate_latest(metrics.REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

        async def healthz(request: web.Request) -> web.Response:
            return web.json_response({"status": "ok"})

        app = web.Application(middlewares=[problems_middleware])
        app.add_routes([web.get("/metrics", metrics_text), web.get("/healthz", healthz)])
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
