"""The unit of work: one transaction, the repositories that share it, commit or roll back.

Every write of a sign-in goes through one of these, so a transition, its log row and
anything else it changes commit together or not at all.
"""

from __future__ import annotations

import asyncpg

from .audit import AuditLog
from .config import ConfigRepository
from .flows import FlowRepository, TransitionLog
from .outbox import OutboxRepository
from .keys import SigningKeyRepository
from .tree import MerkleTreeStore
from .users import UserRepository
from .verifications import VerificationRepository
from .webauthn import WebauthnRepository
from .webhooks import DeliveryRepository, EndpointRepository


class UnitOfWork:
    def __init__(self, pool: asyncpg.Pool, **transaction_options):
        self._pool = pool
        self._options = transaction_options  # e.g. isolation="repeatable_read", readonly=True
        self._conn = None
        self._tx = None
        self._committed = False

    async def __aenter__(self) -> "UnitOfWork":
        self._conn = await self._pool.acquire()
        self._tx = self._conn.transaction(**self._options)
        await self._tx.start()
        self.config = ConfigRepository(self._conn)
        self.users = UserRepository(self._conn)
        self.verifications = VerificationRepository(self._conn)
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
        await self._tx.commit()
        self._committed = True

    async def __aexit__(self, *exc_info) -> None:
        try:
            if not self._committed:
                await self._tx.rollback()
        finally:
            await self._pool.release(self._conn)
