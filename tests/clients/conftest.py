"""The clients' tests (the Python client's and the browser SDK's Node tests) run against a real
``mfa-flow serve`` and ``worker`` on a database of their own, with webhooks to loopback allowed
so that a real receiver gets them."""

from __future__ import annotations

import pytest

from tests.support.server import free_port, server_and_worker


@pytest.fixture(scope="package")
async def client_db(test_database):
    async with test_database.own("clients") as url:
        yield url


@pytest.fixture(scope="package")
async def service(client_db):
    """The server and the worker, for every client test of this run (one xdist worker's)."""
    async with server_and_worker(
        client_db, {"MFA_FLOW_WEBHOOK_ALLOW_PRIVATE": "1"},
        worker={"MFA_FLOW_WEBHOOK_RETRY_SCHEDULE": "0,0.3,0.3", "MFA_FLOW_WORKER_METRICS_PORT": str(free_port())},
    ) as (server, worker):
        yield server, worker
