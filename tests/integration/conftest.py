"""The service layer in process: the objects ``mfa-flow serve`` builds, on a database of the
test's own, driven without HTTP (no server, no mock).

``build_service`` is the one place that constructs them, so that when the composition
changes only it changes. Tests take ``service`` (default settings) or ``service_with``
(``await service_with(lockout_threshold=2)``) and talk through the small ``InProcess``
vocabulary below, or reach the service objects (``.flows``, ``.management``, ``.webhooks``)
directly.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from mfa_flow import bootstrap
from mfa_flow.app.audit_keeper import AuditKeeper
from mfa_flow.app.flows import FlowService
from mfa_flow.app.management import Management
from mfa_flow.app.webhooks import WebhookService
from mfa_flow.crypto import token_digest
from mfa_flow.domain.access import ADMIN, ANYONE, FLOW_TOKEN, Principal
from mfa_flow.domain.errors import DomainError
from mfa_flow.domain.flow import Flow
from mfa_flow.http.problems import Problem, from_domain
from mfa_flow.settings import Settings
from mfa_flow.store import Database

PASSWORD = "correct horse battery"


@dataclass
class InProcess:
    """The service objects of one installation, and a vocabulary to drive them."""

    settings: Settings
    db: Database
    flows: FlowService
    management: Management
    webhooks: WebhookService
    audit_keeper: AuditKeeper
    tokens: dict[str, str] = field(default_factory=dict)  # flow id -> flow token, as its client holds it

    async def configure(self, factors: list[str], policy: str) -> None:
        await self.management.put_config({"factors": factors, "policy": policy})

    async def new_user(self, username: str | None = None, password: str | None = PASSWORD) -> dict[str, Any]:
        body: dict[str, Any] = {"username": username or f"user-{uuid.uuid4().hex[:8]}"}
        if password:
            body["password"] = password
        return await self.management.add_user(body)

    async def start(self, user: dict[str, Any] | None = None) -> Flow:
        """A new flow; with ``user`` (``{"id": ...}``) the embedding backend asserts the first factor."""
        flow, token = await self.flows.create(user, Principal(ADMIN) if user is not None else ANYONE)
        self.tokens[flow.id] = token
        return flow

    async def send(self, flow_id: str, type_: str, expected_version: int | None = None, **payload: Any) -> Flow:
        """Apply one client event as the flow's user (its token); raises the Problem the client
        would get (the HTTP layer's rendering of the service's domain error)."""
        who = Principal(FLOW_TOKEN, token_digest(self.tokens[flow_id]))
        try:
            return await self.flows.apply(flow_id, {"type": type_, **payload}, who, expected_version=expected_version)
        except DomainError as error:
            raise from_domain(error) from error

    async def refused(self, flow_id: str, type_: str, expected_version: int | None = None, **payload: Any) -> Problem:
        """Apply an event that the service must refuse; the Problem it refused it with."""
        with pytest.raises(Problem) as refusal:
            await self.send(flow_id, type_, expected_version, **payload)
        return refusal.value

    async def signed_in_with_password(self, username: str) -> Flow:
        flow = await self.start()
        return await self.send(flow.id, "submit_password", username=username, password=PASSWORD)

    async def stored(self, flow_id: str) -> Flow:
        """The flow as committed, read in a transaction of its own (and not expired on reading)."""
        async with self.db.unit_of_work() as uow:
            flow = await uow.flows.get(flow_id)
        assert flow is not None, f"no flow {flow_id}"
        return flow

    async def log(self, flow_id: str) -> list[dict[str, Any]]:
        """The flow's committed transition rows, oldest first."""
        async with self.db.unit_of_work() as uow:
            return await uow.transitions.of_flow(flow_id)

    async def make_overdue(self, *flow_ids: str) -> None:
        """Move the flows' deadlines into the past (instead of waiting for them)."""
        await self.db.pool.execute(
            "UPDATE flows SET expires_at = now() - interval '1 second' WHERE id = ANY($1::uuid[])", list(flow_ids)
        )


def settings_for(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """Settings as ``serve`` reads them from the environment, with the test's overrides."""
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        admin_key="adm_in_process_admin_key_0123456789",
        auditor_key="aud_in_process_auditor_key_0123456789",
        secret_key=Fernet.generate_key().decode(),
        webhook_allow_private=True,
        **overrides,
    )


async def build_service(settings: Settings) -> InProcess:
    """The composition ``serve`` does (``mfa_flow.bootstrap``), without the HTTP application."""
    assert settings.database_url is not None
    # A small pool: enough for the races the tests run, and the PostgreSQL server is shared.
    db = await Database.connect(settings.database_url, min_size=1, max_size=4)
    services = bootstrap.build(settings, db)
    return InProcess(
        settings=settings,
        db=db,
        flows=services.flows,
        management=services.management,
        webhooks=services.webhooks,
        audit_keeper=services.audit_keeper,
    )


ServiceWith = Callable[..., Awaitable[InProcess]]


@pytest.fixture
async def service_with(fresh_database: str, tmp_path: Path) -> AsyncIterator[ServiceWith]:
    """Build the service on the test's own database with some settings changed."""
    built: list[InProcess] = []

    async def build(**overrides: Any) -> InProcess:
        service = await build_service(settings_for(fresh_database, tmp_path, **overrides))
        built.append(service)
        return service

    yield build
    for service in built:
        await service.db.close()


@pytest.fixture
async def service(service_with: ServiceWith) -> InProcess:
    """The service with default settings on the test's own database."""
    return await service_with()
