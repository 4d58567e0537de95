"""The codes flows sent (table ``code_deliveries``): the ledger of sends, and the outbox of
codes mailed over SMTP."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True)
class SendHistory:
    """What the resend rules need of a flow's sends: how many, and the newest one."""

    count: int
    last_at: datetime | None
    last_status: str | None


@dataclass(frozen=True)
class QueuedMessage:
    """A code to mail, claimed by its sender until ``sending_until`` (its lease)."""

    id: str
    flow_id: str
    channel: str
    message_sealed: str | None
    expires_at: datetime
    sending_until: datetime


class CodeDeliveryRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def add(self, flow_id: str, channel: str, via: str, message_sealed: str | None, expires_at: datetime,
                  now: datetime) -> str:
        delivery_id = str(uuid.uuid4())
        await self.conn.execute(
            "INSERT INTO code_deliveries (id, flow_id, channel, via, message_sealed, expires_at, created_at)"
            " VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7)",
            delivery_id, flow_id, channel, via, message_sealed, expires_at, now,
        )
        return delivery_id

    async def history(self, flow_id: str) -> SendHistory:
        row = await self.conn.fetchrow(
            "SELECT count(*)::int AS n,"
            " (array_agg(created_at ORDER BY created_at DESC))[1] AS last_at,"
            " (array_agg(status ORDER BY created_at DESC))[1] AS last_status"
            " FROM code_deliveries WHERE flow_id = $1::uuid",
            flow_id,
        )
        return SendHistory(row["n"], row["last_at"], row["last_status"])

    async def void_earlier(self, flow_id: str, now: datetime) -> None:
        """A new code voids the previous ones: their unsent copies go (they could only mislead).
        One being sent right now (claimed, its lease running, or row-locked by a claim) is
        skipped, not waited for: it settles by itself, and its code is void anyway."""
        await self.conn.execute(
            "UPDATE code_deliveries SET message_sealed = NULL,"
            " status = CASE WHEN status = 'queued' THEN 'failed' ELSE status END,"
            " last_error = CASE WHEN status = 'queued' THEN 'voided by a newer code' ELSE last_error END,"
            " attempted_at = COALESCE(attempted_at, $2::timestamptz)"
            " WHERE id IN (SELECT id FROM code_deliveries WHERE flow_id = $1::uuid"
            " AND (message_sealed IS NOT NULL OR status = 'queued')"
            " AND (sending_until IS NULL OR sending_until <= clock_timestamp()) FOR UPDATE SKIP LOCKED)",
            flow_id, now,
        )

    async def forget(self, created_before: datetime) -> int:
        """Delete the ledger rows older than any flow that could still read them."""
        status: str = await self.conn.execute("DELETE FROM code_deliveries WHERE created_at < $1", created_before)
        return int(status.split()[-1])

    async def claim(self, lease_seconds: float, *, flow_id: str | None = None,
                    older_than: datetime | None = None) -> QueuedMessage | None:
        """One queued SMTP message (of one flow, or any queued before ``older_than``) that nobody
        is sending, leased to the caller for ``lease_seconds`` (by the database's clock) once
        this unit of work commits: until then no other claim takes it; after, one may (the
        sender died before it recorded the outcome)."""
        row = await self.conn.fetchrow(
            "UPDATE code_deliveries SET sending_until = clock_timestamp() + $3 * interval '1 second'"
            " WHERE id = (SELECT id FROM code_deliveries WHERE status = 'queued' AND via = 'smtp'"
            " AND ($1::uuid IS NULL OR flow_id = $1::uuid) AND ($2::timestamptz IS NULL OR created_at < $2)"
            " AND (sending_until IS NULL OR sending_until <= clock_timestamp())"
            " ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
            " RETURNING id::text AS id, flow_id::text AS flow_id, channel, message_sealed, expires_at, sending_until",
            flow_id, older_than, lease_seconds,
        )
        return QueuedMessage(**row) if row else None

    async def settle(self, delivery_id: str, status: str, now: datetime, error: str | None = None,
                     lease: datetime | None = None) -> str | None:
        """The outcome of a send (or of a webhook delivery): the stored copy of the code goes.
        With ``lease``, only while the delivery is still queued under that lease (a sender whose
        lease ran out leaves the outcome to the one that took it over). Returns the delivery's
        channel (None if there is no such delivery, or it is not this lease's any more)."""
        channel: str | None = await self.conn.fetchval(
            "UPDATE code_deliveries SET status = $2::text, message_sealed = NULL, attempted_at = $3::timestamptz,"
            " sent_at = CASE WHEN $2::text = 'sent' THEN $3::timestamptz END, last_error = $4::text,"
            " sending_until = NULL"
            " WHERE id = $1::uuid AND ($5::timestamptz IS NULL OR (status = 'queued' AND sending_until = $5))"
            " RETURNING channel",
            delivery_id, status, now, error, lease,
        )
        return channel

    async def status(self, delivery_id: str) -> str | None:
        status: str | None = await self.conn.fetchval(
            "SELECT status FROM code_deliveries WHERE id = $1::uuid", delivery_id
        )
        return status

    async def flow_of(self, delivery_id: str) -> str | None:
        flow_id: str | None = await self.conn.fetchval(
            "SELECT flow_id::text FROM code_deliveries WHERE id = $1::uuid", delivery_id
        )
        return flow_id
