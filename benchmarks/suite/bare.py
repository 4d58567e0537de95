"""The ceiling for transitions: a bare aiohttp + asyncpg endpoint doing one transition's SQL and
nothing else, and the same SQL for pgbench.

The SQL is what a transition minimally writes, on tables shaped like the service's own
(``CREATE TABLE ... (LIKE flows INCLUDING ALL)``, indexes and defaults included): lock the flow
row, update it (announcing the change with NOTIFY, as the service does), append its log row and
one outbox row, in one transaction. The endpoint reads a JSON body and answers the flow as JSON,
as the service's event endpoint does. Run as a process of its own:

    python -m benchmarks.suite.bare --url DATABASE_URL --port PORT [--loop uvloop|asyncio] [--workers N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from datetime import UTC, datetime

TABLES = """
CREATE TABLE IF NOT EXISTS bench_flows (LIKE flows INCLUDING ALL);
CREATE TABLE IF NOT EXISTS bench_transitions (LIKE transitions INCLUDING ALL);
CREATE TABLE IF NOT EXISTS bench_messages (LIKE webhook_messages INCLUDING ALL);
"""

FLOWS = """
INSERT INTO bench_flows (id, token_digest, state, version, expires_at, attempts_left, created_at, updated_at)
SELECT md5(g::text)::uuid, '\\x00', 'totp_verify', 0, now() + interval '1 day', 5, now(), now()
FROM generate_series(1, $1) g
"""

LOCK = "SELECT id::text AS id, state, version, chain_head FROM bench_flows WHERE id = $1::uuid FOR UPDATE"
UPDATE = ("UPDATE bench_flows SET state = $2, version = $3, chain_head = $4, updated_at = $5 WHERE id = $1::uuid"
          " RETURNING pg_notify('bench_changes', $6)")
LOG_ROW = ("INSERT INTO bench_transitions (flow_id, seq, event, from_state, to_state, at, actor, data, prev_hash, hash)"
           " VALUES ($1::uuid, $2, $3, $4, $5, $6, 'user', $7::jsonb, $8, $9)")
OUTBOX_ROW = ("INSERT INTO bench_messages (id, type, ordering_key, data, occurred_at)"
              " VALUES ($1, 'flow.transitioned', $2, $3::jsonb, $4)")

# The same transaction for pgbench, on a random one of the flows (flow n's id is md5(n)).
PGBENCH_SCRIPT = r"""
\set n random(1, {flows})
BEGIN;
SELECT id, state, version, chain_head FROM bench_flows WHERE id = md5(:n::text)::uuid FOR UPDATE;
UPDATE bench_flows SET state = CASE state WHEN 'totp_verify' THEN 'factor_selection' ELSE 'totp_verify' END,
  version = version + 1, chain_head = md5(random()::text), updated_at = now() WHERE id = md5(:n::text)::uuid
  RETURNING version AS version, pg_notify('bench_changes', id::text || ':' || version) AS notified \gset
INSERT INTO bench_transitions (flow_id, seq, event, from_state, to_state, at, actor, data, prev_hash, hash)
  VALUES (md5(:n::text)::uuid, :version, 'switch_factor', 'totp_verify', 'factor_selection', now(), 'user',
          '{{"guard": "other_factor_available"}}', '', md5(random()::text));
INSERT INTO bench_messages (id, type, ordering_key, data, occurred_at)
  VALUES ('msg_' || md5(random()::text), 'flow.transitioned', 'flow:' || md5(:n::text), '{{}}', now());
COMMIT;
"""


async def prepare(conn, flows: int) -> list[str]:
    """The bare tables (emptied) with ``flows`` flows; returns their ids."""
    await conn.execute(TABLES)
    await conn.execute("TRUNCATE bench_flows, bench_transitions, bench_messages")
    await conn.execute(FLOWS, flows)
    return [r["id"] for r in await conn.fetch("SELECT id::text AS id FROM bench_flows")]


async def _keep_session(conn) -> None:
    """No reset on release beyond asyncpg's own rollback: the service's pool does the same."""


def _app(url: str):
    import asyncpg
    from aiohttp import web

    async def transition(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        pool = request.app["pool"]
        now = datetime.now(UTC)
        async with pool.acquire() as conn, conn.transaction():
            flow = await conn.fetchrow(LOCK, request.match_info["flow_id"])
            if flow is None:
                return web.json_response({"title": "not found"}, status=404)
            version = flow["version"] + 1
            to_state = "factor_selection" if flow["state"] == "totp_verify" else "totp_verify"
            data = json.dumps({"guard": "other_factor_available", "event": body.get("type")})
            chained = hashlib.sha256((flow["chain_head"] + data).encode()).hexdigest()
            await conn.execute(UPDATE, flow["id"], to_state, version, chained, now, f"{flow['id']}:{version}")
            await conn.execute(LOG_ROW, flow["id"], version, body.get("type", "event"), flow["state"], to_state, now,
                               data, flow["chain_head"], chained)
            await conn.execute(OUTBOX_ROW, f"msg_{uuid.uuid4().hex}", f"flow:{flow['id']}", data, now)
        return web.json_response({"id": flow["id"], "state": to_state, "version": version})

    async def lifecycle(app: web.Application):
        app["pool"] = await asyncpg.create_pool(url, min_size=10, max_size=10, reset=_keep_session)
        yield
        await app["pool"].close()

    async def ready(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.cleanup_ctx.append(lifecycle)
    app.router.add_post("/flows/{flow_id}/events", transition)
    app.router.add_get("/ready", ready)
    return app


def serve(url: str, port: int, loop: str, reuse_port: bool) -> None:
    from aiohttp import web

    if loop == "uvloop":
        import uvloop

        uvloop.install()
    sock = socket.socket()
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    web.run_app(_app(url), sock=sock, print=None, access_log=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="asyncio")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--reuse-port", action="store_true")
    args = parser.parse_args()
    if args.workers == 1:
        serve(args.url, args.port, args.loop, args.reuse_port)
        return
    children = [subprocess.Popen([sys.executable, "-m", "benchmarks.suite.bare", "--url", args.url, "--port",
                                  str(args.port), "--loop", args.loop, "--reuse-port"]) for _ in range(args.workers)]

    def stop(*_: object) -> None:
        for child in children:
            child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        child.wait()
    os._exit(0)


if __name__ == "__main__":
    main()
