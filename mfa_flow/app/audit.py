"""The audit API's reads: the log in its global order, signed checkpoints, the JWKS, the
transparency log (tree head, inclusion and consistency proofs); and the operators' counts for
the metrics page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..audit.verify import Cursor
from ..keyring import Keyring
from ..store import Database
from . import transparency


class AuditService:
    def __init__(self, db: Database, keyring: Keyring) -> None:
        self.db = db
        self.keyring = keyring

    async def settled_rows(self, after: Cursor, limit: int) -> list[Any]:
        """Rows after ``after`` below the oldest transaction still in flight (see the feed)."""
        async with self.db.unit_of_work() as uow:
            rows: list[Any] = await uow.audit.settled_rows(after, limit)
        return rows

    async def checkpoints(self, after: int, limit: int) -> dict[str, Any]:
        """Signed checkpoints after id ``after``, with every public key that may have signed one."""
        async with self.db.unit_of_work() as uow:
            items = await uow.audit.checkpoints(after, limit)
            keys = await self.keyring.every_public(uow)
        return {"items": [c.as_json() for c in items], "keys": keys}

    async def jwks(self) -> dict[str, Any]:
        async with self.db.unit_of_work() as uow:
            document: dict[str, Any] = await self.keyring.jwks(uow, datetime.now(UTC))
        return document

    async def log_info(self) -> dict[str, Any] | None:
        async with self.db.unit_of_work() as uow:
            return await transparency.log_info(uow)

    async def inclusion_proof(self, cursor: Cursor, size: int | None) -> transparency.InclusionProof:
        """One snapshot: the tree size checked and the nodes read agree."""
        async with self.db.unit_of_work(isolation="repeatable_read", readonly=True) as uow:
            return await transparency.inclusion_proof(uow, cursor, size)

    async def consistency_proof(self, first: int, second: int) -> list[bytes]:
        async with self.db.unit_of_work(isolation="repeatable_read", readonly=True) as uow:
            return await transparency.consistency_proof(uow, first, second)

    async def ping(self) -> bool:
        """Whether the database answers on a primary."""
        return await self.db.ping()

    async def counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """Flows by state and webhook deliveries by status (for the metrics page)."""
        async with self.db.unit_of_work() as uow:
            flows = await uow.flows.count_by_state()
            deliveries = await uow.deliveries.count_by_status()
        return flows, deliveries

    async def trail(self) -> tuple[int, int]:
        """The Merkle tree's size and about how many rows it has yet to take in (for the
        metrics page: a catch-up's progress, whichever process does it)."""
        async with self.db.unit_of_work() as uow:
            size = await transparency.tree_size(uow)
            behind: int = await uow.audit.rows_behind()
        return size, behind
