"""Fixtures shared by every test: a fresh database per run and real server processes.

Under pytest-xdist each worker is a process of its own, so the session fixtures below give
each worker its own database and its own servers; within a worker, the MFA configuration is
reset before every test (``default_mfa_config``) so that no test depends on what ran before.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import aiohttp
import asyncpg
import pytest

from mfa_flow.store.migrate import migrate
from tests.support.client import Api
from tests.support.database import TestDatabase
from tests.support.server import ServerProcess


@pytest.fixture(scope="session")
def test_database():
    database = TestDatabase()
    asyncio.run(database.create())
    yield database
    asyncio.run(database.drop())
    database.close()


@pytest.fixture(scope="session")
def database_url(test_database) -> str:
    return test_database.url


@pytest.fixture(scope="session")
async def migrated_template(test_database) -> AsyncIterator[str]:
    """A database with every migration applied, copied by ``fresh_database`` (never used directly:
    PostgreSQL copies a template only while nobody is connected to it)."""
    name = f"{test_database.name}_template"
    url = await test_database.create(name)
    await migrate(url)
    yield name
    await test_database.drop(name)


@pytest.fixture
async def fresh_database(test_database, migrated_template) -> AsyncIterator[str]:
    """A migrated database of the test's own (its own configuration, users, log), dropped after."""
    name = f"{test_database.name}_{uuid.uuid4().hex[:8]}"
    url = await test_database.create(name, template=migrated_template)
    yield url
    await test_database.drop(name)


class SharedConnection:
    """One connection to the run's database for the fixtures' own work, opened on first use and
    kept: the PostgreSQL server's connections are shared with the servers, the other xdist
    workers and other runs, so fixtures should not open one per test."""

    def __init__(self, url: str):
        self.url = url
        self._conn: asyncpg.Connection | None = None

    async def get(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self.url)
        return self._conn

    def close(self) -> None:
        if self._conn is not None and not self._conn.is_closed():
            try:
                self._conn.terminate()  # synchronous: session teardown has no event loop to await in
            except RuntimeError:  # the session's event loop closed first: the socket went with it
                pass


@pytest.fixture(scope="session")
def run_database(database_url) -> Iterator[SharedConnection]:
    shared = SharedConnection(database_url)
    yield shared
    shared.close()


@pytest.fixture(autouse=True)
async def default_mfa_config(request) -> None:
    """Each test that uses the run's database starts from the default MFA configuration (the
    migration's: no factors, user-controlled, trusted devices off), whatever the test before it
    configured."""
    if "database_url" not in request.fixturenames:
        return
    conn = await request.getfixturevalue("run_database").get()
    try:
        await conn.execute(
            "UPDATE mfa_config SET factors = DEFAULT, policy = DEFAULT, trusted_devices_enabled = DEFAULT,"
            " trusted_devices_days = DEFAULT, adaptive = DEFAULT, passkey_sign_in_enabled = DEFAULT,"
            " passkey_sign_in_counts_as_mfa = DEFAULT, passkey_sign_in_user_verification = DEFAULT, updated_at = now()"
        )
    except (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError):
        pass  # no server has migrated the database yet: the row will be made with the defaults


@pytest.fixture(scope="session")
def server(database_url):
    """One server for the run, with the default settings."""
    process = ServerProcess(database_url).start()
    yield process
    process.stop()


class ServerStarter:
    """Starts extra servers (other settings, or several processes on one database) and stops
    them when its fixture ends. Call it from sync fixtures; in async tests and fixtures use
    ``await start_server.started(...)``, which does not block the event loop while it waits."""

    def __init__(self, database_url: str):
        self.database_url = database_url
        self.processes: list[ServerProcess] = []

    def __call__(self, url: str | None = None, command: str = "serve", **env: str) -> ServerProcess:
        process = ServerProcess(url or self.database_url, command=command, **env)
        self.processes.append(process)
        return process.start()

    async def started(self, url: str | None = None, command: str = "serve", **env: str) -> ServerProcess:
        return await asyncio.to_thread(self, url, command, **env)

    def stop_all(self) -> None:
        for process in self.processes:
            process.stop()


@pytest.fixture(scope="module")
def start_server(database_url):
    """Extra servers live as long as the module that started them: each holds connections of
    the PostgreSQL server, which other workers and other runs share."""
    starter = ServerStarter(database_url)
    yield starter
    starter.stop_all()


@pytest.fixture(scope="module")
def quiet_postgres():
    """An embedded PostgreSQL (pgserver) where only this module's tests have transactions: rows
    settle (no older transaction in flight) as soon as they commit."""
    postgres = TestDatabase(embedded=True)
    yield postgres
    postgres.close()


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def api(server, http) -> Api:
    return Api(server.base_url, http)
