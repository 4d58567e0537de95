"""The benchmarks. Each takes the run's environment and returns its figures, each beside the
ceiling it is held against, measured in the same run on the same machine."""

from __future__ import annotations

import asyncio
import json as jsonlib
import os
import re
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp
import argon2
import asyncpg
import pyotp

from mfa_flow import bootstrap, passwords
from mfa_flow.crypto import SecretBox
from mfa_flow.domain.access import ADMIN, Principal
from mfa_flow.factors.totp.codes import new_secret
from mfa_flow.passwords import profiles
from mfa_flow.settings import Settings
from mfa_flow.store import Database
from mfa_flow.store.audit_log import KEEPER_LOCK
from mfa_flow.store.session_lock import SessionLock
from tests.support.bulk import import_flows

from ..password_hashing import OTHER_PROFILES
from . import bare, clients, profiling
from .clients import ADMIN as ADMIN_HEADERS
from .environment import CpuSplit, Environment, ServerProcess, pgbench_binary
from .load import Run, closed_loop, paced, percentile
from .report import Figure, say

PASSWORD = "correct horse battery staple"


def session(limit: int = 2000) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit))


async def prepared_service(env: Environment, http: aiohttp.ClientSession, base: str) -> None:
    """The configuration every HTTP benchmark runs under (once per run): authenticator apps and
    backup codes, mandatory; one webhook endpoint for flow.transitioned (the bare endpoint's
    too), so that each transition writes its outbox rows as in a real installation (no worker
    runs: the deliveries stay pending)."""
    if getattr(env, "_prepared", False):
        return
    await clients.configure(http, base, ["totp", "backup_code"])
    conn = await asyncpg.connect(await env.database_url())
    try:
        await bare.ensure_endpoint(conn)
    finally:
        await conn.close()
    env._prepared = True  # type: ignore[attr-defined]


def run_text(run: Run) -> str:
    return f"{run.rate:,.0f}/s, p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms"


# --- transitions/s over HTTP against the bare endpoint --------------------------------------


async def _switching_flows(http: aiohttp.ClientSession, base: str, count: int, prefix: str) -> list[tuple[str, dict, str]]:
    users = await clients.make_users(http, base, f"{prefix}-{uuid.uuid4().hex[:6]}", count, ("totp", "backup_code"))
    flows = [await clients.asserted_flow(http, base, user_id) for user_id, _ in users]
    return [(f"{base}/api/flows/{flow_id}/events", headers, flow["state"]) for flow_id, headers, flow in flows]


async def _drive_service(env: Environment, base: str, flows: list[tuple[str, dict, str]]) -> Run:
    options = env.options
    async with session() as http:
        async def client(n: int) -> Callable[[], Awaitable[int]]:
            url, headers, state = flows[n]
            return clients.Switching(http, url, headers, state).step

        return await closed_loop(options.clients, options.seconds, client, options.warmup)


async def _drive_bare(env: Environment, base: str, flow_ids: list[str]) -> Run:
    options = env.options
    async with session() as http:
        async def client(n: int) -> Callable[[], Awaitable[int]]:
            url = f"{base}/flows/{flow_ids[n]}/events"

            async def step() -> int:
                async with http.post(url, json={"type": "switch_factor"}) as response:
                    await response.read()
                    if response.status != 200:
                        raise clients.ApiError(f"bare endpoint: {response.status}")
                return 1

            return step

        return await closed_loop(options.clients, options.seconds, client, options.warmup)


async def transitions(env: Environment) -> list[Figure]:
    options = env.options
    conn = await asyncpg.connect(await env.database_url())
    try:
        bare_flows = await bare.prepare(conn, max(options.clients, 1000))
    finally:
        await conn.close()
    figures = []
    for workers in (1, 2):
        if workers != 1:  # nothing else of the service runs meanwhile (its checkpoints would)
            await env.stop(await env.main_server())
        server = await env.main_server() if workers == 1 else await env.server(workers=2)
        async with session() as http:
            await prepared_service(env, http, server.base_url)
            flows = await _switching_flows(http, server.base_url, options.clients, f"tr{workers}")
        say(f"mfa-flow, {workers} process(es), {options.clients} clients, {options.seconds:g} s ...")
        samplers = []
        if options.profile and workers == 1:
            assert server.process is not None
            samplers = profiling.record(server.process.pid, options.warmup + options.seconds, options.profile)
        assert server.process is not None
        cpu_before = CpuSplit.now(server.process.pid)
        async with env.sampling(server, f"transitions, {workers} process(es)"):
            service = await _drive_service(env, server.base_url, flows)
        service_cpu = CpuSplit.now(server.process.pid).per_unit(cpu_before, service.requests)
        say(f"  {run_text(service)}; CPU per transition: {service_cpu.text()}")
        if samplers:
            await asyncio.gather(*(asyncio.to_thread(s.wait) for s in samplers))
            assert options.profile is not None
            summary = profiling.top(options.profile / "transitions-stacks.txt")
            (options.profile / "transitions-top.txt").write_text(summary)
            say(f"  profile: {options.profile}/transitions-flame.svg, transitions-top.txt")
        if workers != 1:
            await env.stop(server)
        base = await env.bare_endpoint(workers)
        say(f"bare aiohttp + asyncpg endpoint, {workers} process(es) ...")
        cpu_before = CpuSplit.now(env.bare_pid())
        ceiling = await _drive_bare(env, base, bare_flows[:options.clients])
        bare_cpu = CpuSplit.now(env.bare_pid()).per_unit(cpu_before, ceiling.requests)
        env.stop_bare()
        say(f"  {run_text(ceiling)}; CPU per transition: {bare_cpu.text()}")
        ratio = service.rate / ceiling.rate if ceiling.rate else 0.0
        figures.append(Figure(
            "transitions", f"transitions/s over HTTP, {options.clients} clients, {workers} process(es)",
            service.rate, "/s", service.p50_ms, service.p99_ms, ceiling.rate,
            f"bare aiohttp+asyncpg, {workers} process(es)", ceiling.p50_ms, ceiling.p99_ms,
            "≥ 0.8 × ceiling, p99 ≤ 15 ms", ratio >= 0.8 and service.p99_ms <= 15,
            {"loop": env.loop, "transitions": service.count, "bare_transitions": ceiling.count,
             "cpu_ms_per_transition": service_cpu.__dict__, "bare_cpu_ms_per_transition": bare_cpu.__dict__},
        ))
        if workers == 1:
            # Where each transition's CPU went, beside the bare endpoint's: on a machine that the
            # server, PostgreSQL and the load generator share, the whole machine's CPU per
            # transition is what bounds the rate of both.
            for label, key in (("the serving process", "server"), ("PostgreSQL", "postgres"),
                               ("the load generator", "client"), ("the whole machine", "machine")):
                figures.append(Figure(
                    "transitions", f"CPU of {label} per transition (1 process)", getattr(service_cpu, key), "ms",
                    ceiling=getattr(bare_cpu, key), ceiling_label="with the bare endpoint",
                    details={"loop": env.loop},
                ))
    return figures


# --- pgbench with the same SQL ----------------------------------------------------------------


async def pgbench(env: Environment) -> list[Figure]:
    options = env.options
    binary = pgbench_binary()
    if binary is None:
        say("no pgbench here (Debian: postgresql; or pgserver's bundled one): skipped")
        return []
    url = await env.database_url()
    conn = await asyncpg.connect(url)
    try:
        flows = len(await bare.prepare(conn, 1000))
    finally:
        await conn.close()
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(bare.PGBENCH_SCRIPT.format(flows=flows))
    seconds = max(1, int(round(options.seconds)))
    say(f"pgbench, the bare endpoint's SQL, {options.clients} clients, {seconds} s ...")
    try:
        done = await asyncio.to_thread(
            subprocess.run,
            [binary, "-n", "-M", "prepared", "-c", str(options.clients), "-j", "2", "-T", str(seconds), "-f",
             script.name, url],
            capture_output=True, text=True,
        )
    finally:
        os.unlink(script.name)
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed: {done.stderr.strip()}")
    tps = float(re.search(r"tps = ([\d.]+)", done.stdout).group(1))  # type: ignore[union-attr]
    latency = re.search(r"latency average = ([\d.]+) ms", done.stdout)
    say(f"  {tps:,.0f} transactions/s")
    return [Figure("pgbench", f"pgbench, one transition's SQL, {options.clients} clients", tps, "/s",
                   ceiling_label="(the database's own ceiling for the transitions rows)",
                   details={"latency_average_ms": float(latency.group(1)) if latency else None})]


# --- embedded sign-ins: the backend asserts the first factor, then TOTP -----------------------


async def bulk_totp_users(env: Environment, prefix: str, count: int, password_hash: str | None = None
                          ) -> list[tuple[str, pyotp.TOTP]]:
    """``count`` users with an authenticator app, written straight into the database (the
    service's own rows: the secret sealed with the run's key); far faster than the API."""
    box = SecretBox(env.secret_key)
    secrets = [new_secret() for _ in range(count)]
    ids = [f"{prefix}-{uuid.uuid4().hex[:10]}" for _ in range(count)]
    conn = await asyncpg.connect(await env.database_url())
    try:
        async with conn.transaction():
            await conn.executemany("INSERT INTO users (id, username, password_hash) VALUES ($1, $1, $2)",
                                   [(i, password_hash) for i in ids])
            await conn.executemany(
                "INSERT INTO mfa_verifications (id, user_id, type, secret_sealed) VALUES ($1, $2, 'totp', $3)",
                [(uuid.uuid4(), i, box.seal(s)) for i, s in zip(ids, secrets, strict=True)],
            )
    finally:
        await conn.close()
    return [(i, pyotp.TOTP(s)) for i, s in zip(ids, secrets, strict=True)]


class CodeBook:
    """Hands out (user, code) pairs such that no code is used twice: a user's time-steps must
    grow (the replay guard), and one step of drift either way is accepted."""

    def __init__(self, users: list[tuple[str, pyotp.TOTP]]):
        self.users = users
        self.last: dict[str, int] = {}
        self.next = 0

    def take(self) -> tuple[str, str]:
        """A user and a code of theirs that the server will take now."""
        for _ in range(len(self.users)):
            user_id, totp = self.users[self.next % len(self.users)]
            self.next += 1
            code = self.code(user_id, totp)
            if code is not None:
                return user_id, code
        raise RuntimeError("every benchmark user has spent its codes: more users are needed")

    def user(self) -> tuple[str, pyotp.TOTP]:
        """The next user in turn (for a sign-in whose code is asked for later, with ``code``)."""
        user_id, totp = self.users[self.next % len(self.users)]
        self.next += 1
        return user_id, totp

    def code(self, user_id: str, totp: pyotp.TOTP) -> str | None:
        """A code of this user's that the server takes now and that was not used, if any."""
        now = int(time.time())
        current = now // 30
        # The step before is accepted only while the server's clock is still in this one.
        earliest = current - 1 if now % 30 < 27 else current
        step = max(earliest, self.last.get(user_id, -1) + 1)
        if step > current + 1:
            return None
        self.last[user_id] = step
        return totp.at(step * 30)


async def sign_ins(env: Environment) -> list[Figure]:
    options = env.options
    server = await env.main_server()
    base = server.base_url
    async with session() as http:
        await prepared_service(env, http, base)
        count = 300 if options.quick else 4000
        say(f"{count} users with an authenticator app ...")
        book = CodeBook(await bulk_totp_users(env, "si", count))

        async def client(n: int) -> Callable[[], Awaitable[int]]:
            async def step() -> int:
                user_id, code = book.take()
                flow_id, headers, flow = await clients.asserted_flow(http, base, user_id)
                assert flow["state"] == "totp_verify", flow["state"]
                done = await clients.call(http, "POST", f"{base}/api/flows/{flow_id}/events",
                                          {"type": "submit_totp", "code": code}, headers)
                assert done["state"] == "done", done
                return 1

            return step

        say(f"embedded sign-ins (admin-asserted first factor, TOTP, done), {options.clients} clients ...")
        assert server.process is not None
        cpu_before = CpuSplit.now(server.process.pid)
        async with env.sampling(server, "sign-ins"):
            run = await closed_loop(options.clients, options.seconds, client, options.warmup)
        cpu = CpuSplit.now(server.process.pid).per_unit(cpu_before, run.requests)
    say(f"  {run_text(run)}; CPU per sign-in: {cpu.text()}")
    return [
        Figure("sign-ins", f"embedded sign-ins/s (asserted → TOTP → done), {options.clients} clients",
               run.rate, "/s", run.p50_ms, run.p99_ms, target="≥ 500/s", met=run.rate >= 500,
               details={"sign_ins": run.count, "cpu_ms_per_sign_in": cpu.__dict__}),
        # What bounds it on a machine the three share: the whole machine's CPU per sign-in.
        Figure("sign-ins", "CPU of the whole machine per embedded sign-in", cpu.machine, "ms",
               ceiling_label=f"of which the serving process {cpu.server:.2f} ms, PostgreSQL {cpu.postgres:.2f} ms,"
                             f" the load generator {cpu.client:.2f} ms", details=cpu.__dict__),
    ]


# --- passwords: argon2id at the configured parameters ------------------------------------------


def describe_hash(password_hash: str) -> str:
    p = argon2.extract_parameters(password_hash)
    return f"argon2{p.type.name.lower()} t={p.time_cost} m={p.memory_cost // 1024} MiB p={p.parallelism}"


def argon2_ceiling(password_hash: str, seconds: float) -> tuple[float, float]:
    """Raw verifies/s at the hash's own parameters on a thread per core (argon2-cffi releases
    the GIL), and the time of one verify alone (ms)."""
    hasher = argon2.PasswordHasher.from_parameters(argon2.extract_parameters(password_hash))
    started = time.perf_counter()
    hasher.verify(password_hash, PASSWORD)
    alone_ms = (time.perf_counter() - started) * 1000
    threads = os.cpu_count() or 1
    deadline = time.perf_counter() + seconds

    def work() -> int:
        done = 0
        while time.perf_counter() < deadline:
            hasher.verify(password_hash, PASSWORD)
            done += 1
        return done

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(lambda _: work(), range(threads)))
    return total / (time.perf_counter() - started), alone_ms


async def configured_hash(password: str) -> str:
    """A hash at MFA_FLOW_PASSWORD_HASH's profile, as the server under test makes them."""
    return await asyncio.to_thread(passwords.hasher(Settings.from_env().password_hash).hash, password)


def profile_name() -> str:
    """The hashing profile the service runs with (MFA_FLOW_PASSWORD_HASH), as it describes itself."""
    return Settings.from_env().password_hash.describe()


async def argon2_figures(env: Environment, password_hash: str, profile: str | None = None) -> Figure:
    seconds = 2.0 if env.options.quick else 5.0
    rate, alone_ms = await asyncio.to_thread(argon2_ceiling, password_hash, seconds)
    profile = profile or profile_name()
    say(f"  raw argon2 ({describe_hash(password_hash)}, profile {profile}): {alone_ms:.0f} ms alone, {rate:.1f}/s"
        f" on {os.cpu_count()} threads")
    return Figure("argon2", f"raw argon2 verifies/s on {os.cpu_count()} threads ({describe_hash(password_hash)})",
                  rate, "/s", ceiling_label=f"profile {profile}: {alone_ms:.0f} ms per verify alone",
                  details={"profile": profile, "parameters": describe_hash(password_hash), "verify_ms": alone_ms})


async def argon2_alone(env: Environment) -> list[Figure]:
    say("raw argon2 at the configured parameters ...")
    return [await argon2_figures(env, await configured_hash(PASSWORD))]


async def _password_run(env: Environment, server: ServerProcess, profile: str, users: int) -> list[Figure]:
    """Password → TOTP → done at 8 clients on ``server``, beside raw argon2 at the parameters of
    the hashes that server makes."""
    options = env.options
    clients_count = 8
    base = server.base_url
    async with session() as http:
        await prepared_service(env, http, base)
        # The server hashes one password with its profile (MFA_FLOW_PASSWORD_HASH); every
        # benchmark user gets that hash, and the ceiling is measured at its parameters.
        made = await clients.call(http, "POST", f"{base}/api/users",
                                  {"username": f"pw-{uuid.uuid4().hex[:8]}", "password": PASSWORD}, ADMIN_HEADERS,
                                  expect=201)
        conn = await asyncpg.connect(await env.database_url())
        try:
            password_hash = await conn.fetchval("SELECT password_hash FROM users WHERE id = $1", made["id"])
        finally:
            await conn.close()
        say(f"raw argon2 at the parameters of profile {profile} (the ceiling) ...")
        ceiling = await argon2_figures(env, password_hash, profile)
        book = CodeBook(await bulk_totp_users(env, "pw", users, password_hash))

        async def client(n: int) -> Callable[[], Awaitable[int]]:
            async def step() -> int:
                user_id, totp = book.user()
                created = await clients.call(http, "POST", f"{base}/api/flows", {}, expect=201)
                flow_id, headers = created["flow"]["id"], {"Authorization": f"Bearer {created['flow_token']}"}
                url = f"{base}/api/flows/{flow_id}/events"
                checked = await clients.call(http, "POST", url, {"type": "submit_password", "username": user_id,
                                                                 "password": PASSWORD}, headers)
                assert checked["state"] == "totp_verify", checked["state"]
                code = book.code(user_id, totp)  # read now: the password took its time
                assert code is not None, "a benchmark user signed in three times within a minute"
                done = await clients.call(http, "POST", url, {"type": "submit_totp", "code": code}, headers)
                assert done["state"] == "done", done
                return 1

            return step

        seconds = max(options.seconds, 4.0 if options.quick else 15.0)
        say(f"password → TOTP → done, profile {profile}, {clients_count} clients, {seconds:g} s ...")
        async with env.sampling(server, f"password sign-ins ({profile})"):
            run = await closed_loop(clients_count, seconds, client, options.warmup)
    say(f"  {run_text(run)}")
    bound_ms = 1.5 * clients_count / ceiling.value * 1000
    ratio = run.rate / ceiling.value
    target, met = f"≥ 0.9 × ceiling, p99 ≤ {bound_ms:,.0f} ms", ratio >= 0.9 and run.p99_ms <= bound_ms
    return [ceiling, Figure(
        "passwords", f"password → TOTP → done, {clients_count} clients, {profile}", run.rate, "/s",
        run.p50_ms, run.p99_ms, ceiling.value, "raw argon2 verifies/s", target=target, met=met,
        details={"sign_ins": run.count, "p99_bound_ms": bound_ms, "profile": profile},
    )]


# Besides the configured profile: OWASP's first argon2id line, and the costs password_hashing.py
# measures beside the named profiles.
OTHER_PASSWORD_PROFILES = ("owasp", *OTHER_PROFILES)


async def password_sign_ins(env: Environment) -> list[Figure]:
    """At each hashing profile of the run (``--password-profile``; by default the configured one,
    ``owasp``, OWASP's cheapest argon2id line and an argon2i cost), each on a server of its own
    with nothing else of the service running meanwhile."""
    figures: list[Figure] = []
    await env.stop_main()
    for setting in env.options.password_profiles:
        profile = profiles.parse(setting)
        server = await env.server(MFA_FLOW_PASSWORD_HASH=profile.setting)
        figures += await _password_run(env, server, profile.describe(), 300 if env.options.quick else 2000)
        await env.stop(server)
    return figures


# --- commit → WebSocket push with many sockets open --------------------------------------------


async def _commit_paced(url: str, secret_key: str, flow_ids: list[str], per_second: float) -> dict[str, float]:
    """Cancel each flow through the service's own transaction (FlowService.apply, in this
    process, on a loop of its own) and note when each commit returned."""
    db = await Database.connect(url, min_size=2, max_size=2)
    settings = Settings(database_url=url, data_dir=Path(tempfile.mkdtemp()), secret_key=secret_key)
    service = bootstrap.build(settings, db).flows
    committed: dict[str, float] = {}
    try:
        for flow_id in flow_ids:
            began = time.perf_counter()
            await service.apply(flow_id, {"type": "cancel"}, Principal(ADMIN))
            committed[flow_id] = time.perf_counter()
            await asyncio.sleep(max(0.0, 1 / per_second - (time.perf_counter() - began)))
    finally:
        await db.close()
    return committed


async def websocket(env: Environment) -> list[Figure]:
    options = env.options
    server = await env.main_server()
    base = server.base_url
    sockets = options.sockets
    received: dict[str, float] = {}
    async with session(limit=sockets + 100) as http:
        say(f"{sockets} flows, each with a WebSocket open ...")
        limit = asyncio.Semaphore(16)

        async def open_one(_: int) -> tuple[str, aiohttp.ClientWebSocketResponse]:
            async with limit:
                created = await clients.call(http, "POST", f"{base}/api/flows", {}, expect=201)
                flow_id = created["flow"]["id"]
                ws = await http.ws_connect(f"{base}/api/flows/{flow_id}/ws", params={"token": created["flow_token"]})
                first = await ws.receive_json()
                assert first["flow"]["version"] == 0, first
                return flow_id, ws

        opened = await asyncio.gather(*(open_one(n) for n in range(sockets)))

        async def follow(flow_id: str, ws: aiohttp.ClientWebSocketResponse) -> None:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT and '"cancelled"' in message.data:
                    received.setdefault(flow_id, time.perf_counter())

        followers = [asyncio.create_task(follow(flow_id, ws)) for flow_id, ws in opened]
        changes = [flow_id for flow_id, _ in opened][: int(100 * options.seconds)]
        say(f"commit → push: {len(changes)} commits at 100/s, {sockets} sockets open ...")
        async with env.sampling(server, f"{sockets} WebSockets"):
            # The commits run on a loop of their own (a thread), so that their timestamps never
            # wait behind this loop's receiving tasks.
            committed = await asyncio.to_thread(
                asyncio.run, _commit_paced(await env.database_url(), env.secret_key, changes, 100.0))
            await asyncio.sleep(1.0)  # the last pushes are on their way (a lost one shows as missing)
        for task in followers:
            task.cancel()
        await asyncio.gather(*(ws.close() for _, ws in opened), return_exceptions=True)
    latencies = [received[f] - committed[f] for f in changes if f in received]
    missing = len(changes) - len(latencies)
    p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
    say(f"  p50 {p50:.1f} ms, p99 {p99:.1f} ms, {missing} not received")
    return [Figure("websocket", f"commit → WebSocket push, {sockets} sockets open, 100 commits/s", p50, "ms", p50, p99,
                   target="p99 ≤ 20 ms", met=p99 <= 20 and missing == 0,
                   details={"changes": len(changes), "missing": missing,
                            "mean_ms": statistics.fmean(latencies) * 1000 if latencies else None})]


# --- transition latency with many flows stored --------------------------------------------------

_BULK = """
WITH new_flows AS (
    INSERT INTO flows (id, token_digest, state, version, mode, user_id, expires_at, attempts_left, context, result,
                       chain_head, created_at, updated_at)
    SELECT gen_random_uuid(), '\\x00', 'done', 2, 'verify', 'bulk-user', now() - interval '1 day', 5, '{}',
           '{"amr": ["otp"]}', md5(g::text), now() - interval '1 day', now() - interval '1 day'
    FROM generate_series(1, $1) g
    RETURNING id
)
INSERT INTO transitions (flow_id, seq, event, from_state, to_state, at, actor, data, prev_hash, hash)
SELECT id, s.seq, s.event, s.from_state, s.to_state, now() - interval '1 day', 'user', '{"guard": "bulk"}', '',
       md5(id::text || s.seq)
FROM new_flows, (VALUES (1, 'first_factor_asserted', 'first_factor', 'totp_verify'),
                        (2, 'submit_totp', 'totp_verify', 'done')) AS s (seq, event, from_state, to_state)
"""


async def _stored_up_to(url: str, flows: int) -> tuple[int, int]:
    """Bulk-load finished flows (two transitions each) until ``flows`` are stored; returns the counts."""
    conn = await asyncpg.connect(url)
    try:
        have = await conn.fetchval("SELECT count(*) FROM flows")
        batch = 100_000
        while have < flows:
            adding = min(batch, flows - have)
            await conn.execute(_BULK, adding)
            have += adding
            say(f"  {have:,} flows stored")
        return have, await conn.fetchval("SELECT count(*) FROM transitions")
    finally:
        await conn.close()


async def _settle(url: str) -> None:
    """What a DBA does after a bulk load, so that the figure is of the tables as they stay, not
    of PostgreSQL catching up while it is taken: VACUUM (ANALYZE) every table the load and the
    Merkle tree's catch-up wrote (else autovacuum starts on them mid-measurement, and first reads
    set hint bits), then CHECKPOINT, to write out now what they left in the buffers (a superuser's
    command, as the test databases have; skipped otherwise)."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM (ANALYZE)")
        await conn.execute("CHECKPOINT")
    except asyncpg.InsufficientPrivilegeError:
        say("  (no CHECKPOINT: the database user is not a superuser)")
    finally:
        await conn.close()


async def _catch_up_the_tree(env: Environment) -> None:
    """Sign checkpoints and extend the Merkle tree over the bulk-loaded rows, as ``audit
    checkpoint`` does: in service the tree keeps up as rows arrive, and a bulk load should not
    leave the server's background work measuring the catch-up instead of transitions."""
    from mfa_flow.audit.checkpoints import make_checkpoints

    url = await env.database_url()
    settings = Settings(database_url=url, data_dir=Path(tempfile.mkdtemp()), secret_key=env.secret_key)
    services = bootstrap.build(settings, await Database.connect(url, min_size=1, max_size=2))
    try:
        await make_checkpoints(services.db, services.keyring, settings.checkpoint_rows, settings.checkpoint_seconds,
                               force=True, max_batches=10**9, origin=settings.log_origin)
    finally:
        await services.close()


async def stored(env: Environment) -> list[Figure]:
    options = env.options
    server = await env.main_server()
    base = server.base_url
    url = await env.database_url()
    async with session() as http:
        await prepared_service(env, http, base)
        ((url_, headers, state),) = await _switching_flows(http, base, 1, "st")
    levels = [10_000] + ([1_000_000] if options.big else [])
    measured: dict[int, Run] = {}
    figures = []
    for level in levels:
        say(f"bulk-loading finished flows up to {level:,} ...")
        started = time.perf_counter()
        flows, rows = await _stored_up_to(url, level)
        await _catch_up_the_tree(env)
        await _settle(url)
        say(f"  {flows:,} flows and {rows:,} transitions stored ({time.perf_counter() - started:.0f} s with the"
            " Merkle tree's catch-up)")
        async with session() as http:
            switching = clients.Switching(http, url_, headers, state)

            async def client(n: int, step: Callable[[], Awaitable[int]] = switching.step) -> Callable[[], Awaitable[int]]:
                return step

            say("one client's transitions ...")
            run = await closed_loop(1, options.seconds, client, options.warmup)
        state = switching.state
        measured[level] = run
        say(f"  p50 {run.p50_ms:.2f} ms, p99 {run.p99_ms:.2f} ms")
        first = measured[levels[0]]
        figures.append(Figure(
            "stored", f"transition latency, 1 client, {flows:,} flows / {rows:,} transitions stored",
            run.p50_ms, "ms", run.p50_ms, run.p99_ms,
            first.p50_ms if level != levels[0] else None, f"p50 with {levels[0]:,} stored" if level != levels[0] else "",
            target="p50 within 20 % of that with 10,000" if level != levels[0] else "",
            met=run.p50_ms <= 1.2 * first.p50_ms if level != levels[0] else None,
            details={"flows": flows, "transitions": rows},
        ))
    return figures


# --- the audit trail's catch-up after a bulk import, and the web's latency meanwhile -------------

_FINISHED = re.compile(r'"audit catch-up finished".*')


def _catch_up_line(log: str) -> dict | None:
    """The worker's log line that ends a catch-up, as JSON (None until it is there)."""
    found = _FINISHED.search(log)
    if found is None:
        return None
    line = log[log.rfind("\n", 0, found.start()) + 1:log.find("\n", found.start())]
    return jsonlib.loads(line)


async def catch_up(env: Environment) -> list[Figure]:
    """A bulk import of ``rows`` log rows into a database the service runs on, then the worker's
    catch-up of the audit trail over them (signed checkpoints and the Merkle tree, in batches).
    The web's latency is taken by an open loop of transitions (``rate`` a second over 16 flows)
    with the trail caught up on every row but the import's, and again while the worker takes
    those in: the catch-up's own rate, and its cost to the serving process's tail."""
    options = env.options
    rows = 20_000 if options.quick else 1_000_000
    rate = 50.0 if options.quick else 100.0
    url = await env.database_url()
    server = await env.main_server()
    async with session() as http:
        await prepared_service(env, http, server.base_url)
        flows = await _switching_flows(http, server.base_url, 16, "cu")
    # Nobody keeps the trail while the import loads and the idle figure is taken (the serving
    # process leaves it to whoever holds the keeper's lock).
    held = await SessionLock.try_take(url, KEEPER_LOCK, "benchmark")
    assert held is not None, "a worker already keeps the audit trail"
    say(f"importing {rows:,} log rows ({rows // 2:,} finished flows) ...")
    conn = await asyncpg.connect(url)
    try:
        await import_flows(conn, rows // 2)
    finally:
        await conn.close()
    await _settle(url)
    async with session() as http:
        steps = [clients.Switching(http, u, h, s).step for u, h, s in flows]
        say(f"web latency, {rate:g} transitions/s paced, the import's rows not caught up yet ...")
        idle = await paced(rate, options.seconds, steps)
        say(f"  p50 {idle.p50_ms:.1f} ms, p99 {idle.p99_ms:.1f} ms")
        await held.release()
        worker = await env.worker()
        say("the worker catches up; web latency meanwhile ...")
        during: list[float] = []
        finished = None
        async with env.sampling(server, "audit catch-up"):
            while finished is None:
                window = await paced(rate, min(options.seconds, 5.0), steps)
                finished = _catch_up_line(worker.log())
                if finished is None or len(during) == 0:
                    during += window.latencies  # windows that ended after the catch-up are left out
    await env.stop(worker)
    assert finished is not None
    busy = Run(len(during), 1.0, during)
    say(f"  {finished['rows']:,} rows in {finished['seconds']} s ({finished['rows_per_second']:,}/s);"
        f" web p50 {busy.p50_ms:.1f} ms, p99 {busy.p99_ms:.1f} ms")
    return [
        Figure("catch-up", "audit catch-up by the worker (checkpoints and Merkle tree)", finished["rows_per_second"],
               " rows/s", ceiling_label=f"{finished['rows']:,} rows in {finished['seconds']} s",
               details=finished),
        Figure("catch-up", f"web p99 during the catch-up, {rate:g} transitions/s paced", busy.p99_ms, "ms",
               busy.p50_ms, busy.p99_ms, idle.p99_ms, "p99 with the trail caught up", idle.p50_ms, idle.p99_ms,
               target="p99 within 20 % of idle", met=busy.p99_ms <= 1.2 * idle.p99_ms,
               details={"rate": rate, "idle_requests": idle.count, "busy_requests": len(during)}),
    ]


BENCHES: dict[str, tuple[str, Callable[[Environment], Awaitable[list[Figure]]]]] = {
    "transitions": ("transitions/s over HTTP vs the bare aiohttp+asyncpg endpoint (1 and 2 processes)", transitions),
    "pgbench": ("pgbench running the bare endpoint's SQL", pgbench),
    "sign-ins": ("embedded sign-ins/s: admin-asserted first factor → TOTP → done", sign_ins),
    "argon2": ("raw argon2 verifies/s at the configured parameters (no server, no database)", argon2_alone),
    "passwords": ("password → TOTP → done at 8 clients vs the raw argon2 ceiling, at each hashing profile",
                  password_sign_ins),
    "websocket": ("commit → WebSocket push latency with many sockets open", websocket),
    "stored": ("transition latency with 10,000 (and with --big 1,000,000) flows stored", stored),
    "catch-up": ("the worker's audit catch-up over 1,000,000 imported rows, and the web p99 meanwhile", catch_up),
}
DEFAULT = ["transitions", "pgbench", "sign-ins", "passwords", "websocket", "stored", "catch-up"]
