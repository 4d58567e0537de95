"""The ceiling for transitions: a bare aiohttp + asyncpg endpoint doing one transition's SQL and
nothing else, and the same SQL for pgbench.

The SQL is the service's own, written out by hand on its own tables: lock the flow row and its
user's (one statement), append the log row, update the flow (announcing the change with NOTIFY),
write the outbox row and a delivery row per subscribed webhook endpoint (waking the workers), in
one transaction. What the endpoint leaves out is the engine: no state machine, rules, hash chain
of canonical JSON, schema validation, middleware or view of the flow; it reads a JSON body and
answers a small JSON object. Run as a process of its own:

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

# One webhook endpoint subscribed to flow.transitioned (no worker runs: deliveries stay pending).
ENDPOINT_URL = "http://127.0.0.1:9/mfa-flow-bench"
ENDPOINT = """
INSERT INTO webhook_endpoints (id, url, events, secret_sealed, created_at, updated_at)
SELECT gen_random_uuid(), $1, '{flow.transitioned}', 'not-a-secret', now(), now()
WHERE NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE url = $1)
"""

# Flow n (id md5(n)) of user bare-n, waiting for a TOTP code.
USERS = ("INSERT INTO users (id, username) SELECT 'bare-' || g, 'bare-' || g FROM generate_series(1, $1) g"
         " ON CONFLICT DO NOTHING")
FLOWS = """
INSERT INTO flows (id, token_digest, state, version, mode, user_id, expires_at, attempts_left, context, chain_head,
                   created_at, updated_at)
SELECT md5(g::text)::uuid, '\\x00', 'totp_verify', 0, 'verify', 'bare-' || g, now() + interval '1 day', 5, '{}', '',
       now(), now()
FROM generate_series(1, $1) g
ON CONFLICT DO NOTHING
"""

LOCK = """
WITH f AS (SELECT id::text AS id, state, version, mode, user_id, expires_at, attempts_left, context, result, chain_head,
                  created_at, updated_at, token_digest FROM flows WHERE id = $1::uuid FOR UPDATE)
SELECT f.*, u.id AS user__id, u.username AS user__username, u.locked_until AS user__locked_until
FROM f LEFT JOIN LATERAL (SELECT id, username, password_hash, prompted, last_used_factor, consecutive_failures,
                                 locked_until, created_at FROM users WHERE id = f.user_id FOR UPDATE) u ON true
"""
LOG_ROW = ("INSERT INTO transitions (flow_id, seq, event, from_state, to_state, at, actor, data, prev_hash, hash)"
           " VALUES ($1::uuid, $2, $3, $4, $5, $6, 'user', $7::jsonb, $8, $9)")
UPDATE = ("UPDATE flows SET state = $2, version = $3, mode = $4, user_id = $5, attempts_left = $6, context = $7::jsonb,"
          " result = NULL, chain_head = $8, updated_at = $9 WHERE id = $1::uuid RETURNING pg_notify('flow_changes', $10)")
OUTBOX = """
WITH new_messages AS (
    INSERT INTO webhook_messages (id, type, ordering_key, data, occurred_at)
    VALUES ($1, 'flow.transitioned', $2, $3::jsonb, $4)
    RETURNING seq, type, ordering_key
), new_deliveries AS (
    INSERT INTO webhook_deliveries (message_seq, endpoint_id, ordering_key)
    SELECT m.seq, e.id, m.ordering_key FROM new_messages m
    JOIN webhook_endpoints e ON e.enabled AND m.type = ANY (e.events)
    RETURNING 1
)
SELECT count(*)::int, CASE WHEN count(*) > 0 THEN pg_notify('webhook_outbox', '') END FROM new_deliveries
"""

# The same transaction for pgbench, on a random one of the flows.
PGBENCH_SCRIPT = r"""
\set n random(1, {flows})
BEGIN;
WITH f AS (SELECT id::text AS id, state, version, mode, user_id, expires_at, attempts_left, context, result, chain_head,
                  created_at, updated_at, token_digest FROM flows WHERE id = md5(:n::text)::uuid FOR UPDATE)
SELECT f.version AS version, u.id AS user__id
FROM f LEFT JOIN LATERAL (SELECT id, username, password_hash, prompted, last_used_factor, consecutive_failures,
                                 locked_until, created_at FROM users WHERE id = f.user_id FOR UPDATE) u ON true \gset
INSERT INTO transitions (flow_id, seq, event, from_state, to_state, at, actor, data, prev_hash, hash)
  VALUES (md5(:n::text)::uuid, :version + 1, 'switch_factor', 'totp_verify', 'factor_selection', now(), 'user',
          '{{"guard": "other_factor_available"}}', '', md5(random()::text));
UPDATE flows SET state = CASE state WHEN 'totp_verify' THEN 'factor_selection' ELSE 'totp_verify' END,
  version = :version + 1, mode = 'verify', attempts_left = 5, context = '{{}}', result = NULL,
  chain_head = md5(random()::text), updated_at = now() WHERE id = md5(:n::text)::uuid
  RETURNING pg_notify('flow_changes', id::text || ':' || version);
WITH new_messages AS (
    INSERT INTO webhook_messages (id, type, ordering_key, data, occurred_at)
    VALUES ('msg_' || md5(random()::text), 'flow.transitioned', 'flow:' || md5(:n::text), '{{}}', now())
    RETURNING seq, type, ordering_key
), new_deliveries AS (
    INSERT INTO webhook_deliveries (message_seq, endpoint_id, ordering_key)
    SELECT m.seq, e.id, m.ordering_key FROM new_messages m
    JOIN webhook_endpoints e ON e.enabled AND m.type = ANY (e.events)
    RETURNING 1
)
SELECT count(*)::int, CASE WHEN count(*) > 0 THEN pg_notify('webhook_outbox', '') END FROM new_deliveries;
COMMIT;
"""


async def ensure_endpoint(conn) -> None:
    await conn.execute(ENDPOINT, ENDPOINT_URL)


async def prepare(conn, flows: int) -> list[str]:
    """``flows`` flows (ids md5(1) ... md5(n)) of their own users, and the webhook endpoint; their ids."""
    await ensure_endpoint(conn)
    await conn.execute(USERS, flows)
    await conn.execute(FLOWS, flows)
    return [r["id"] for r in await conn.fetch("SELECT md5(g::text)::uuid::text AS id FROM generate_series(1, $1) g",
                                              flows)]


async def _keep_session(conn) -> None:
    """No reset on release beyond asyncpg's own rollback: the service's pool does the same."""


async def transition(conn, flow_id: str, event_type: str) -> dict | None:
    """One transition's SQL on one flow, in one transaction: the answer's fields, or None when
    there is no such flow."""
    now = datetime.now(UTC)
    async with conn.transaction():
        flow = await conn.fetchrow(LOCK, flow_id)
        if flow is None:
            return None
        version = flow["version"] + 1
        to_state = "factor_selection" if flow["state"] == "totp_verify" else "totp_verify"
        data = json.dumps({"guard": "other_factor_available", "event": event_type})
        chained = hashlib.sha256((flow["chain_head"] + data).encode()).hexdigest()
        await conn.execute(LOG_ROW, flow["id"], version, event_type, flow["state"], to_state, now,
                           data, flow["chain_head"], chained)
        await conn.execute(UPDATE, flow["id"], to_state, version, flow["mode"], flow["user_id"],
                           flow["attempts_left"], "{}", chained, now, f"{flow['id']}:{version}")
        await conn.fetchrow(OUTBOX, f"msg_{uuid.uuid4().hex}", f"flow:{flow['id']}", data, now)
    return {"id": flow["id"], "state": to_state, "version": version}


def _app(url: str):
    import asyncpg
    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        async with request.app["pool"].acquire() as conn:
            done = await transition(conn, request.match_info["flow_id"], body.get("type", "event"))
        if done is None:
            return web.json_response({"title": "not found"}, status=404)
        return web.json_response(done)

    async def lifecycle(app: web.Application):
        app["pool"] = await asyncpg.create_pool(url, min_size=10, max_size=10, reset=_keep_session)
        yield
        await app["pool"].close()

    async def ready(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.cleanup_ctx.append(lifecycle)
    app.router.add_post("/flows/{flow_id}/events", handle)
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
