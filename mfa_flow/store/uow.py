"""The unit of work: one transaction, the repositories that share it, commit or roll back.

Every write of a sign-in goes through one of these, so a transition, its log row and
anything else it changes commit together or not at all. Domain events recorded during the
change (``record``) become outbox rows, and wake the webhook worker, in the same
transaction just before it commits: a message exists if and only if its change committed.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from ..domain.events import DomainEvent
from ..webhooks.messages import to_messages
from .audit_log import AuditLog
from .config import ConfigRepository
from .flows import FlowRepository, TransitionLog
from .keys import SigningKeyRepository
from .outbox import OutboxRepository
from .tree import MerkleTreeStore
from .user_factors import UserFactorRepository
from .users import UserRepository
from .webauthn import WebauthnRepository
from .webhooks import DeliveryRepository, EndpointRepository


class UnitOfWork:
    def __init__(self, pool: asyncpg.Pool, **transaction_options: Any) -> None:
        self._pool = pool
        self._options = transaction_options  # e.g. isolation="repeatable_read", readonly=True
        self._conn: Any = None
        self._tx: Any = None
        self._committed = False
        self._events: list[DomainEvent] = []

    def record(self, *events: DomainEvent) -> None:
        """Collect domain events; they are written to the outbox at commit."""
        self._events.extend(events)

    async def __aenter__(self) -> "UnitOfWork":
        self._conn = await self._pool.acquire()
        self._tx = self._conn.transaction(**self._options)
        await self._tx.start()
        self.config = ConfigRepository(self._conn)
        self.users = UserRepository(self._conn)
        self.user_factors = UserFactorRepository(self._conn)
        self.webauthn = WebauthnRepository(self._conn)
        self.flows = FlowRepository(self._conn)
        self.transitions = TransitionLog(self._conn)
        self.outbox = OutboxRepository(self._conn)
        self.webhooks = EndpointRepository(self._conn)
        self.deliveries = DeliveryRepository(self._conn)
        self.keys = SigningKeyRepository(self._conn)
        self.audit = AuditLog(self._conn)
        self.tree = MerkleTreeStore(self._conn)
        return self

    @property
    def connection(self) -> asyncpg.Connection:
        return self._conn

    async def commit(self) -> None:
        if self._events:
            events, self._events = self._events, []
            await self.outbox.add(to_messages(events))
        await self._tx.commit()
        self._committed = True

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            if not self._committed:
                await self._tx.rollback()
        finally:
            await self._pool.release(self._conn)
