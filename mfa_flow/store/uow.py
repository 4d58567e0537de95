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
from ..request_writes import REQUEST_WRITES
from ..webhooks.messages import to_messages
from .audit_log import AuditLog
from .code_deliveries import CodeDeliveryRepository
from .config import ConfigRepository, PasskeySignInRepository
from .connections import ACQUIRE_TIMEOUT_SECONDS, DatabaseUnavailable, is_connection_lost
from .devices import TrustedDeviceRepository
from .flows import FlowRepository, TransitionLog
from .keys import SigningKeyRepository
from .limits import RateLimitRepository
from .oidc import OidcRepository
from .organizations import OrganizationRepository
from .outbox import OutboxRepository
from .sign_ins import SignInRepository
from .tree import MerkleTreeStore
from .user_factors import UserFactorRepository
from .users import UserRepository
from .webauthn import WebauthnRepository
from .webhooks import DeliveryRepository, EndpointRepository


class UnitOfWork:
    def __init__(self, pool: asyncpg.Pool, replayable: bool = False, **transaction_options: Any) -> None:
        self._pool = pool
        # A replayable unit's commit does not stop a request from running again after a lost
        # connection (an abuse-limit hit: counting it twice is harmless).
        self._replayable = replayable
        self._options = transaction_options  # e.g. isolation="repeatable_read", readonly=True
        self._conn: Any = None
        self._tx: Any = None
        self._committed = False
        self._events: list[DomainEvent] = []

    def record(self, *events: DomainEvent) -> None:
        """Collect domain events; they are written to the outbox at commit."""
        self._events.extend(events)

    async def __aenter__(self) -> "UnitOfWork":
        try:
            self._conn = await self._pool.acquire(timeout=ACQUIRE_TIMEOUT_SECONDS)
        except (TimeoutError, asyncpg.PostgresError, asyncpg.exceptions.InternalClientError, OSError) as exc:
            raise DatabaseUnavailable(f"no database connection: {type(exc).__name__}") from exc
        self._tx = self._conn.transaction(**self._options)
        try:
            await self._tx.start()
        except BaseException as exc:
            await self._give_back(exc)
            raise
        self.config = ConfigRepository(self._conn)
        self.users = UserRepository(self._conn)
        self.user_factors = UserFactorRepository(self._conn)
        self.devices = TrustedDeviceRepository(self._conn)
        self.webauthn = WebauthnRepository(self._conn)
        self.flows = FlowRepository(self._conn)
        self.transitions = TransitionLog(self._conn)
        self.outbox = OutboxRepository(self._conn)
        self.webhooks = EndpointRepository(self._conn)
        self.deliveries = DeliveryRepository(self._conn)
        self.keys = SigningKeyRepository(self._conn)
        self.audit = AuditLog(self._conn)
        self.tree = MerkleTreeStore(self._conn)
        self.limits = RateLimitRepository(self._conn)
        self.code_deliveries = CodeDeliveryRepository(self._conn)
        self.oidc = OidcRepository(self._conn)
        self.passkey_sign_in = PasskeySignInRepository(self._conn)
        self.organizations = OrganizationRepository(self._conn)
        self.sign_ins = SignInRepository(self._conn)
        return self

    @property
    def connection(self) -> asyncpg.Connection:
        return self._conn

    async def commit(self) -> None:
        if self._events:
            events, self._events = self._events, []
            await self.outbox.add(to_messages(events))
        writes = REQUEST_WRITES.get()
        if writes is not None and not self._replayable:
            writes.commits += 1  # counted before it is sent: a lost answer may still have committed
        await self._tx.commit()
        self._committed = True

    async def __aexit__(self, exc_type: object, exc: BaseException | None, traceback: object) -> None:
        try:
            if not self._committed and not self._conn.is_closed():
                await self._tx.rollback()
        except Exception as rollback_error:
            # The connection died under us: nothing to roll back (the server ended the
            # transaction). Let the error that brought us here, if any, be the one seen.
            if not is_connection_lost(rollback_error):
                raise
            exc = exc or rollback_error
        finally:
            await self._give_back(exc)

    async def _give_back(self, exc: BaseException | None) -> None:
        """Return the connection to the pool; one that lost its server is closed first, so
        that the pool opens a fresh one instead of handing it out again."""
        if exc is not None and is_connection_lost(exc) and not self._conn.is_closed():
            self._conn.terminate()
        await self._pool.release(self._conn)
