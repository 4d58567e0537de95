"""The Python client, holding the admin key, the auditor key or none, against the clients' service
(``tests/clients/conftest.py``)."""

from __future__ import annotations

import pytest
from mfa_flow_client import MfaFlowClient

from tests.support.names import unique
from tests.support.server import ADMIN_KEY, AUDITOR_KEY

from .support import PASSWORD


@pytest.fixture
async def admin(service):
    async with MfaFlowClient(service[0].base_url, ADMIN_KEY) as client:
        yield client


@pytest.fixture
async def auditor(service):
    async with MfaFlowClient(service[0].base_url, AUDITOR_KEY) as client:
        yield client


@pytest.fixture
async def anonymous(service):
    """A frontend's backend: no key, each flow driven with its own token."""
    async with MfaFlowClient(service[0].base_url) as client:
        yield client


@pytest.fixture
async def user(admin):
    """A user with a password and no factor."""
    name = unique("py")
    created = await admin.users.create({"username": name, "password": PASSWORD})
    return {**created, "username": name}
