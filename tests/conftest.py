"""Fixtures shared by every test: a fresh database per run and real server processes."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

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
def server(database_url):
    """One server for the run, with the default settings."""
    process = ServerProcess(database_url).start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def start_server(database_url):
    """Start extra servers (other settings, or several processes on one database)."""
    started: list[ServerProcess] = []

    def start(url: str | None = None, command: str = "serve", **env) -> ServerProcess:
        process = ServerProcess(url or database_url, command=command, **env).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def api(server, http) -> Api:
    return Api(server.base_url, http)
