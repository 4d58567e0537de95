"""Live-stream and sign-in capacity figures, for deploy/README.md's capacity plan.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python benchmarks/live.py

Makes and drops its own database on DATABASE_URL's server, starts two real ``mfa-flow
serve`` processes on loopback and prints:

- baseline: raw asyncpg transitions/s (select for update + update + insert + notify), the
  yardstick the other figures are compared with, measured in the same run;
- the database's share of a sign-in: pgbench running exactly the SQL of one MFA sign-in;
- sign-ins/s through HTTP of one web process and of two;
- for 1,000 open WebSocket subscribers over the two processes: memory per idle socket
  (RSS delta / sockets) and commit-to-receive latency p50/p99, paced and in a burst.

Bounded to well under a minute; everything stays on loopback.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
import pyotp  # noqa: E402
import structlog  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from mfa_flow import bootstrap  # noqa: E402
from mfa_flow.domain.access import Principal  # noqa: E402
from mfa_flow.settings import Settings  # noqa: E402

AS_ADMIN = Principal("admin")
from mfa_flow.store import Database  # noqa: E402
from tests.support.database import TestDatabase  # noqa: E402
from tests.support.server import ADMIN_KEY, ServerProcess  # noqa: E402

SOCKETS = 1000
USERS = 800
SIGN_IN_SECONDS = 4.0
CONCURRENCY = 16
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


# --- Baseline: the bare database cost of one transition -----------------------------------


async def baseline_transitions(url: str, seconds: float = 2.0) -> float:
    pool = await asyncpg.create_pool(url, min_size=8, max_size=8)
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE bench_flow (id int PRIMARY KEY, version int NOT NULL)")
        await conn.execute("CREATE TABLE bench_log (flow_id int, seq int, at timestamptz DEFAULT now())")
        await conn.execute("INSERT INTO bench_flow SELECT g, 0 FROM generate_series(1, 1000) g")
    done = 0
    deadline = time.monotonic() + seconds

    async def worker(offset: int) -> None:
        nonlocal done
        i = offset
        while time.monotonic() < deadline:
            i = (i + 8) % 1000 + 1
            async with pool.acquire() as conn, conn.transaction():
                version = await conn.fetchval("SELECT version FROM bench_flow WHERE id = $1 FOR UPDATE", i)
                await conn.execute("UPDATE bench_flow SET version = $2 WHERE id = $1", i, version + 1)
                await conn.execute("INSERT INTO bench_log (flow_id, seq) VALUES ($1, $2)", i, version + 1)
                await conn.execute("SELECT pg_notify('bench', $1)", f"{i}:{version + 1}")
            done += 1

    started = time.monotonic()
    await asyncio.gather(*(worker(n) for n in range(8)))
    rate = done / (time.monotonic() - started)
    async with pool.acquire() as conn:
        await conn.execute("DROP TABLE bench_flow, bench_log")
    await pool.close()
    return rate


# --- The database's share of one sign-in, without Python in the way -----------------------

# The statements one MFA sign-in (first factor asserted by the backend, then a TOTP code)
# sends, as mfa_flow/flows.py and store/ issue them: two write transactions and a read.
PGBENCH_SIGN_IN = r"""
\set u random(0, {users_last})
BEGIN;
INSERT INTO flows (id, token_digest, state, version, mode, user_id, expires_at, attempts_left, context, result,
                   chain_head, created_at, updated_at)
  VALUES (gen_random_uuid(), '\x00', 'first_factor', 0, NULL, NULL, now() + interval '10 minutes', 5, '{{}}', NULL,
          '', now(), now())
  RETURNING id AS flow_id \gset
SELECT id, username, password_hash FROM users WHERE id = 'bench-' || :u FOR UPDATE;
SELECT factors, policy FROM mfa_config;
SELECT v.id, user_id, type, secret_sealed, last_step,
       (SELECT count(*) FROM backup_codes b WHERE b.verification_id = v.id AND b.used_at IS NULL)
  FROM mfa_verifications v WHERE user_id = 'bench-' || :u ORDER BY created_at, id;
INSERT INTO transitions (flow_id, seq, event, from_state, to_state, at, actor, data, prev_hash, hash)
  VALUES (:flow_id, 1, 'first_factor_asserted', 'first_factor', 'totp_verify', now(), 'admin', '{{}}', '',
          md5(random()::text));
UPDATE flows SET state = 'totp_verify', version = 1, mode = 'verify', user_id = 'bench-' || :u, attempts_left = 5,
  context = '{{}}', result = NULL, chain_head = 'x', updated_at = now() WHERE id = :flow_id;
SELECT pg_notify('flow_changes', :flow_id::text || ':1');
COMMIT;
SELECT id FROM flows WHERE id = :flow_id;
BEGIN;
SELECT id, state, version FROM flows WHERE id = :flow_id FOR UPDATE;
SELECT id, username FROM users WHERE id = 'bench-' || :u FOR UPDATE;
SELECT v.id, secret_sealed, last_step FROM mfa_verifications v WHERE user_id = 'bench-' || :u AND type = 'totp'
  ORDER BY created_at LIMIT 1;
UPDATE mfa_verifications SET last_step = coalesce(last_step, 0) + 1, last_used_at = now()
  WHERE user_id = 'bench-' || :u AND type = 'totp';
UPDATE users SET consecutive_failures = 0, locked_until = NULL, last_used_factor = 'totp' WHERE id = 'bench-' || :u;
INSERT INTO transitions (flow_id, seq, event, from_state, to_state, at, actor, data, prev_hash, hash)
  VALUES (:flow_id, 2, 'submit_totp', 'totp_verify', 'done', now(), 'user', '{{}}', 'x', md5(random()::text));
UPDATE flows SET state = 'done', version = 2, result = '{{"amr": ["otp"]}}', updated_at = now() WHERE id = :flow_id;
SELECT pg_notify('flow_changes', :flow_id::text || ':2');
COMMIT;
"""


async def seed_bench_users(url: str, users: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO users (id, username) SELECT 'bench-' || g, 'bench-' || g FROM generate_series(0, $1 - 1) g",
            users,
        )
        await conn.execute(
            "INSERT INTO mfa_verifications (id, user_id, type, secret_sealed)"
            " SELECT gen_random_uuid(), 'bench-' || g, 'totp', 'sealed' FROM generate_series(0, $1 - 1) g",
            users,
        )
    finally:
        await conn.close()


def pgbench_sign_ins(url: str, seconds: int = 5, clients: int = 8, users: int = 10_000) -> float | None:
    pgbench = next((p for p in ("/usr/lib/postgresql/15/bin/pgbench", "/usr/bin/pgbench") if Path(p).exists()), None)
    if pgbench is None:
        return None
    asyncio.run(seed_bench_users(url, users))  # in its own thread: called through asyncio.to_thread
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(PGBENCH_SIGN_IN.format(users_last=users - 1))
    out = subprocess.run(
        [pgbench, "-n", "-M", "prepared", "-c", str(clients), "-j", "2", "-T", str(seconds), "-f", script.name, url],
        capture_output=True, text=True, check=True,
    ).stdout
    os.unlink(script.name)
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


# --- Sign-ins through HTTP ---------------------------------------------------------------


async def make_totp_users(http: aiohttp.ClientSession, base_url: str, count: int) -> list[tuple[str, pyotp.TOTP]]:
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def one(n: int):
        async with semaphore:
            async with http.post(f"{base_url}/api/users", json={"username": f"signin-{n}"}, headers=ADMIN) as r:
                user = await r.json()
            url = f"{base_url}/api/users/{user['id']}/mfa-verifications"
            async with http.post(url, json={"type": "totp"}, headers=ADMIN) as r:
                secret = (await r.json())["secret"]
            return user["id"], pyotp.TOTP(secret)

    return await asyncio.gather(*(one(n) for n in range(count)))


async def sign_ins(http, base_urls: list[str], users, step_offset: int, seconds: float) -> float:
    """MFA sign-ins (the embedding backend asserts the first factor, the user sends a TOTP
    code), CONCURRENCY at a time, each user at most once (codes are single-use per step)."""
    queue = list(users)
    deadline = time.monotonic() + seconds
    done = 0

    async def worker(n: int) -> None:
        nonlocal done
        base_url = base_urls[n % len(base_urls)]
        while queue and time.monotonic() < deadline:
            user_id, totp = queue.pop()
            async with http.post(f"{base_url}/api/flows", json={"user": {"id": user_id}}, headers=ADMIN) as r:
                created = await r.json()
            assert created["flow"]["state"] == "totp_verify", created
            code = totp.at(time.time() + 30 * step_offset)
            headers = {"Authorization": f"Bearer {created['flow_token']}"}
            url = f"{base_url}/api/flows/{created['flow']['id']}/events"
            async with http.post(url, json={"type": "submit_totp", "code": code}, headers=headers) as r:
                flow = await r.json()
            assert flow.get("state") == "done", flow
            done += 1

    started = time.monotonic()
    await asyncio.gather(*(worker(n) for n in range(CONCURRENCY)))
    return done / (time.monotonic() - started)


async def password_sign_ins(http, base_url: str, seconds: float = 3.0) -> float:
    """Password-only sign-ins (no factor enabled): the cost of argon2id verification."""
    await http.put(f"{base_url}/api/config/mfa", json={"factors": [], "policy": "user_controlled"}, headers=ADMIN)
    names = [f"pw-{n}" for n in range(CONCURRENCY)]
    for name in names:
        await http.post(f"{base_url}/api/users", json={"username": name, "password": "correct horse battery"},
                        headers=ADMIN)
    deadline = time.monotonic() + seconds
    done = 0

    async def worker(name: str) -> None:
        nonlocal done
        while time.monotonic() < deadline:
            async with http.post(f"{base_url}/api/flows", json={}) as r:
                created = await r.json()
            headers = {"Authorization": f"Bearer {created['flow_token']}"}
            body = {"type": "submit_password", "username": name, "password": "correct horse battery"}
            async with http.post(f"{base_url}/api/flows/{created['flow']['id']}/events", json=body,
                                 headers=headers) as r:
                assert (await r.json())["state"] == "done"
            done += 1

    started = time.monotonic()
    await asyncio.gather(*(worker(name) for name in names))
    return done / (time.monotonic() - started)


# --- 1,000 WebSocket subscribers -----------------------------------------------------------


async def commit_changes(url: str, secret_key: str, paced: list[str], burst: list[str]) -> tuple[dict, float]:
    """Cancel each flow through FlowService.apply (the real transaction) and note when each
    commit returned: the paced ones at 100/s one at a time, then the burst 8 at a time."""
    db = await Database.connect(url, min_size=8, max_size=8)
    settings = Settings(database_url=url, data_dir=Path(tempfile.mkdtemp()), secret_key=secret_key)
    service = bootstrap.build(settings, db).flows
    committed: dict[str, float] = {}

    async def commit(flow_id: str) -> None:
        await service.apply(flow_id, {"type": "cancel"}, AS_ADMIN)
        committed[flow_id] = time.perf_counter()

    for flow_id in paced:
        await commit(flow_id)
        await asyncio.sleep(0.01)
    semaphore = asyncio.Semaphore(8)

    async def bounded(flow_id: str) -> None:
        async with semaphore:
            await commit(flow_id)

    started = time.perf_counter()
    await asyncio.gather(*(bounded(f) for f in burst))
    rate = len(burst) / (time.perf_counter() - started)
    await db.close()
    return committed, rate


async def websocket_figures(http, servers: list[ServerProcess], url: str, secret_key: str) -> dict:
    flows = []
    for n in range(SOCKETS):
        async with http.post(f"{servers[n % 2].base_url}/api/flows", json={}) as r:
            body = await r.json()
        flows.append((body["flow"]["id"], body["flow_token"], servers[n % 2]))
    await asyncio.sleep(0.5)
    before = {s.process.pid: rss_kib(s.process.pid) for s in servers}

    received: dict[str, float] = {}
    sockets = []
    for flow_id, token, server in flows:
        ws = await http.ws_connect(f"{server.base_url}/api/flows/{flow_id}/ws", params={"token": token})
        assert (await ws.receive_json())["flow"]["version"] == 0
        sockets.append(ws)

    async def follow(flow_id: str, ws) -> None:
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                received.setdefault(flow_id, time.perf_counter())

    followers = [asyncio.create_task(follow(f[0], ws)) for f, ws in zip(flows, sockets, strict=True)]
    await asyncio.sleep(1.0)
    after = {s.process.pid: rss_kib(s.process.pid) for s in servers}
    per_socket_kib = sum(after[p] - before[p] for p in after) / SOCKETS

    paced = [f[0] for f in flows[:400]]
    burst = [f[0] for f in flows[400:]]
    # The commits run in a thread with its own event loop, so that their timestamps do not wait
    # behind the 1,000 receiving tasks of this one (which would make latencies look negative).
    committed, burst_rate = await asyncio.to_thread(asyncio.run, commit_changes(url, secret_key, paced, burst))
    await asyncio.wait_for(asyncio.gather(*followers), 30)  # each socket closes after "cancelled"

    def latencies(ids):
        return [received[i] - committed[i] for i in ids]

    return {
        "rss_before_mib": {p: round(v / 1024, 1) for p, v in before.items()},
        "rss_after_mib": {p: round(v / 1024, 1) for p, v in after.items()},
        "per_socket_kib": per_socket_kib,
        "paced": latencies(paced),
        "burst": latencies(burst),
        "burst_rate": burst_rate,
        "missing": SOCKETS - len(received),
    }


# --- Putting it together -------------------------------------------------------------------


async def main_async(database: TestDatabase, servers: list[ServerProcess], secret_key: str) -> None:
    url = database.url
    print(f"machine: {os.cpu_count()} cores; PostgreSQL and both servers and this client share them")
    print(f"baseline: raw asyncpg transitions (select for update + update + insert + notify, pool 8): "
          f"{await baseline_transitions(url):,.0f}/s")

    a, b = servers
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=2000)) as http:
        await http.put(f"{a.base_url}/api/config/mfa", json={"factors": ["totp"], "policy": "mandatory"},
                       headers=ADMIN)
        users = await make_totp_users(http, a.base_url, USERS)
        one = await sign_ins(http, [a.base_url], users, 0, SIGN_IN_SECONDS)
        two = await sign_ins(http, [a.base_url, b.base_url], users, 1, SIGN_IN_SECONDS)
        print(f"MFA sign-ins/s through HTTP (backend-asserted first factor + TOTP, {CONCURRENCY} clients): "
              f"one web process {one:,.0f}/s, two web processes {two:,.0f}/s")
        pw = await password_sign_ins(http, a.base_url)
        print(f"password-only sign-ins/s through HTTP, one web process (argon2id-bound): {pw:,.0f}/s")

        figures = await websocket_figures(http, servers, url, secret_key)
        print(f"{SOCKETS} idle WebSocket subscribers over two processes: RSS {figures['rss_before_mib']} -> "
              f"{figures['rss_after_mib']} MiB, {figures['per_socket_kib']:.1f} KiB per idle socket")
        for name in ("paced", "burst"):
            values = figures[name]
            label = "paced, 100 commits/s" if name == "paced" else f"burst, {figures['burst_rate']:,.0f} commits/s"
            print(f"commit-to-receive ({label}, {len(values)} changes): p50 {ms(statistics.median(values))}, "
                  f"p99 {ms(percentile(values, 99))}, max {ms(max(values))}")
        print(f"changes not received: {figures['missing']}")

    per_sign_in = await asyncio.to_thread(pgbench_sign_ins, url)
    if per_sign_in is not None:
        print(f"database share: pgbench running one MFA sign-in's SQL (8 clients): {per_sign_in:,.0f} sign-ins/s")


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    if not os.environ.get("DATABASE_URL"):
        raise SystemExit("set DATABASE_URL to a PostgreSQL server (a database is made and dropped there)")
    database = TestDatabase()
    asyncio.run(database.create())
    key = Fernet.generate_key().decode()
    servers = []
    try:
        # One client address opens every socket: no per-address connection cap for this run.
        servers = [ServerProcess(database.url, MFA_FLOW_SECRET_KEY=key, MFA_FLOW_MAX_CONNECTIONS_PER_ADDRESS="0").start()
                   for _ in range(2)]
        asyncio.run(main_async(database, servers, key))
    finally:
        for server in servers:
            server.stop()
        asyncio.run(database.drop())
        database.close()


if __name__ == "__main__":
    main()
