"""What every benchmark of one run shares: one PostgreSQL (a scratch database on DATABASE_URL's
server, or an embedded one), the service's processes, and their memory."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator

import aiohttp
from cryptography.fernet import Fernet

from mfa_flow import loops
from mfa_flow.store.migrate import migrate
from tests.support.database import TestDatabase
from tests.support.server import ServerProcess, free_port

from .clients import ADMIN_KEY


@dataclass(frozen=True)
class Options:
    quick: bool = False
    big: bool = False
    clients: int = 16
    seconds: float = 10.0
    warmup: float = 2.0
    sockets: int = 1000
    profile: Path | None = None  # where py-spy's flame graph and top entries go
    password_profiles: tuple[str, ...] = ()  # MFA_FLOW_PASSWORD_HASH values the passwords benchmark runs at
    stored_ids: str = "v7"  # the ids of the flows the stored benchmark loads: v7 (as made now) or v4 (older)


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def worker_pids(server: ServerProcess) -> list[int]:
    """The processes that serve: the workers of ``serve --workers N``, else the process itself."""
    assert server.process is not None
    pid = server.process.pid
    try:
        children = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        children = []
    return children or [pid]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and of its children that still run."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") + sum(cpu_seconds(c) for c in children)


def postgres_cpu_seconds() -> float:
    """CPU time of every PostgreSQL process on this machine (0 when the database is elsewhere)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        if name.startswith(("postgres", "postmaster")):
            total += int(rest[11]) + int(rest[12])
    return total / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy (all cores; not idle, not waiting for disk)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


@dataclass
class CpuSplit:
    """Where a run's CPU went, per unit of work, in ms: the serving process(es), PostgreSQL, this
    process (the load generator), and the whole machine (the rest is the kernel's work for
    other processes and whatever else runs)."""

    server: float = 0.0
    postgres: float = 0.0
    client: float = 0.0
    machine: float = 0.0

    @classmethod
    def now(cls, server_pid: int) -> "CpuSplit":
        return cls(cpu_seconds(server_pid), postgres_cpu_seconds(), time.process_time(), machine_busy_seconds())

    def per_unit(self, before: "CpuSplit", units: int) -> "CpuSplit":
        scale = 1000 / max(units, 1)
        return CpuSplit(*((a - b) * scale for a, b in zip(
            (self.server, self.postgres, self.client, self.machine),
            (before.server, before.postgres, before.client, before.machine), strict=True)))

    def text(self) -> str:
        return (f"server {self.server:.2f}, PostgreSQL {self.postgres:.2f}, load generator {self.client:.2f},"
                f" whole machine {self.machine:.2f} ms")


@dataclass
class PgActivity:
    """What PostgreSQL did besides the statements of a run (``pg_stat_*`` views, read before and
    after): the usual suspects when a run's tail grows: checkpoints and the full-page images
    that follow them, backends writing out dirty buffers themselves, autovacuum, temp files."""

    values: dict[str, float]
    vacuumed: dict[str, int]

    @classmethod
    async def now(cls, conn) -> "PgActivity":
        row = await conn.fetchrow(
            "SELECT (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter) AS checkpoints,"
            " (SELECT buffers_backend FROM pg_stat_bgwriter) AS buffers_written_by_backends,"
            " (SELECT wal_fpi FROM pg_stat_wal) AS full_page_images, (SELECT wal_bytes FROM pg_stat_wal) AS wal_bytes,"
            " (SELECT temp_files FROM pg_stat_database WHERE datname = current_database()) AS temp_files")
        tables = await conn.fetch("SELECT relname, autovacuum_count + autoanalyze_count AS n FROM pg_stat_user_tables")
        return cls({k: float(v) for k, v in row.items()}, {r["relname"]: r["n"] for r in tables})

    def since(self, before: "PgActivity", units: int) -> dict[str, object]:
        """The differences, per unit of work where a total says little (WAL, images)."""
        diff = {k: self.values[k] - before.values[k] for k in self.values}
        return {
            "checkpoints": int(diff["checkpoints"]),
            "buffers_written_by_backends": int(diff["buffers_written_by_backends"]),
            "full_page_images_per_unit": round(diff["full_page_images"] / max(units, 1), 3),
            "wal_bytes_per_unit": round(diff["wal_bytes"] / max(units, 1)),
            "temp_files": int(diff["temp_files"]),
            "autovacuum_or_analyze_of": sorted(t for t, n in self.vacuumed.items() if n > before.vacuumed.get(t, 0)),
        }


def pgbench_binary() -> str | None:
    """Debian's pgbench (the server package), else the one pgserver bundles."""
    import pgserver

    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"), reverse=True)
    candidates.append(Path(pgserver.__file__).parent / "pginstall" / "bin" / "pgbench")
    found = next((p for p in candidates if p.exists()), None)
    return str(found) if found else shutil.which("pgbench")


@dataclass
class Environment:
    options: Options
    # The event loop of the service and of the bare endpoint alike (MFA_FLOW_EVENT_LOOP, as the service reads it).
    loop: str = field(default_factory=lambda: loops.chosen(os.environ.get("MFA_FLOW_EVENT_LOOP") or "auto"))
    secret_key: str = field(default_factory=lambda: Fernet.generate_key().decode())
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    _database: TestDatabase | None = None
    _servers: list[ServerProcess] = field(default_factory=list)
    _bare: list[subprocess.Popen] = field(default_factory=list)
    _main: ServerProcess | None = None

    # --- the database ------------------------------------------------------------------------

    async def database_url(self) -> str:
        if self._database is None:
            database = TestDatabase()
            await database.create()
            self._database = database
            await migrate(database.url)
        return self._database.url

    @property
    def where(self) -> str:
        if self._database is None:
            return "none"
        return "DATABASE_URL's server" if os.environ.get("DATABASE_URL") else "embedded (pgserver)"

    # --- the service ---------------------------------------------------------------------------

    async def server(self, workers: int = 1, **env: str) -> ServerProcess:
        """A ``serve`` process (``workers`` of them on one port) on the run's database, abuse
        limits off (every client is 127.0.0.1), flows that live long enough for any run."""
        settings = {
            "MFA_FLOW_ADMIN_KEY": ADMIN_KEY,
            "MFA_FLOW_SECRET_KEY": self.secret_key,
            "MFA_FLOW_EVENT_LOOP": self.loop,
            "MFA_FLOW_WORKERS": str(workers),
            "MFA_FLOW_FLOW_TTL": "3600",
            "MFA_FLOW_MAX_ATTEMPTS": "1000",
            "MFA_FLOW_LOCKOUT_THRESHOLD": "1000",
            "MFA_FLOW_WEBHOOK_ALLOW_PRIVATE": "1",
            # Every benchmark client is 127.0.0.1: a thousand WebSockets from one address are the point.
            "MFA_FLOW_MAX_CONNECTIONS_PER_ADDRESS": "0",
            # The transitions run drives a few flows back and forth for its whole length.
            "MFA_FLOW_MAX_EVENTS_PER_FLOW": "0",
            **env,
        }
        server = await ServerProcess(await self.database_url(), **settings).started(60)
        self._servers.append(server)
        return server

    async def worker(self, **env: str) -> ServerProcess:
        """A ``worker`` process on the run's database (it delivers webhooks and keeps the audit
        trail); stopped at the end of the run, or with ``stop``."""
        settings = {"MFA_FLOW_ADMIN_KEY": ADMIN_KEY, "MFA_FLOW_SECRET_KEY": self.secret_key,
                    "MFA_FLOW_EVENT_LOOP": self.loop, **env}
        worker = await ServerProcess(await self.database_url(), command="worker", **settings).started(60)
        self._servers.append(worker)
        return worker

    async def main_server(self) -> ServerProcess:
        """The one-process server most benchmarks share."""
        if self._main is None:
            self._main = await self.server()
        return self._main

    async def stop_main(self) -> None:
        """Stop the shared server, if one runs (so that nothing else of the service runs)."""
        if self._main is not None:
            await self.stop(self._main)

    async def stop(self, server: ServerProcess) -> None:
        self._servers.remove(server)
        if server is self._main:
            self._main = None
        await asyncio.to_thread(server.stop)

    @asynccontextmanager
    async def sampling(self, server: ServerProcess, label: str) -> AsyncIterator[None]:
        """Note the serving processes' peak RSS while the block runs (every 0.2 s)."""
        pids = worker_pids(server)

        async def sample() -> None:
            while True:
                for n, pid in enumerate(pids):
                    key = f"{label} #{n + 1}" if len(pids) > 1 else label
                    self.peak_rss_mb[key] = max(self.peak_rss_mb.get(key, 0.0), rss_mb(pid))
                await asyncio.sleep(0.2)

        task = asyncio.create_task(sample())
        try:
            yield
        finally:
            task.cancel()

    # --- the bare endpoint ---------------------------------------------------------------------

    def bare_pid(self) -> int:
        return self._bare[-1].pid

    async def bare_endpoint(self, workers: int = 1) -> str:
        """The bare aiohttp + asyncpg endpoint on the same event loop, ``workers`` processes."""
        port = free_port()
        process = subprocess.Popen(  # noqa: ASYNC220  (started once; it runs beside this loop)
            [sys.executable, "-m", "benchmarks.suite.bare", "--url", await self.database_url(), "--port", str(port),
             "--loop", self.loop, "--workers", str(workers)],
            cwd=Path(__file__).resolve().parents[2],
        )
        self._bare.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        async with aiohttp.ClientSession() as http:
            while True:
                try:
                    async with http.get(f"{base}/ready"):
                        return base
                except aiohttp.ClientError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("the bare endpoint did not start") from None
                    await asyncio.sleep(0.1)

    def stop_bare(self) -> None:
        for process in self._bare:
            process.terminate()
            process.wait(10)
        self._bare.clear()

    # --- the end -------------------------------------------------------------------------------

    async def close(self) -> None:
        self.stop_bare()
        for server in list(self._servers):
            await self.stop(server)
        if self._database is not None:
            await self._database.drop()
            self._database.close()


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="mfa-flow-bench-"))
