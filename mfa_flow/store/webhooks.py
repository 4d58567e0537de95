"""Webhook endpoints and their deliveries (the outbox's messages are in ``outbox.py``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg


def _uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


@dataclass
class Endpoint:
    id: str
    url: str
    events: list[str]
    enabled: bool
    description: str | None
    disabled_reason: str | None
    secret_sealed: str
    previous_secret_sealed: str | None
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


_ENDPOINT = (
    "id::text AS id, url, events, enabled, description, disabled_reason, secret_sealed,"
    " previous_secret_sealed, previous_secret_expires_at, created_at, updated_at"
)
_EDITABLE = ("url", "events", "enabled", "description", "disabled_reason")


class EndpointRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def add(self, url: str, events: list[str], enabled: bool, description: str | None,
                  secret_sealed: str, now: datetime) -> Endpoint:
        row = await self.conn.fetchrow(
            "INSERT INTO webhook_endpoints (id, url, events, enabled, description, secret_sealed, created_at,"
            f" updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {_ENDPOINT}",
            uuid.uuid4(), url, events, enabled, description, secret_sealed, now,
        )
        return Endpoint(**row)

    async def get(self, endpoint_id: str, lock: bool = False) -> Endpoint | None:
        checked = _uuid(endpoint_id)
        if checked is None:
            return None
        endpoint_id = checked
        row = await self.conn.fetchrow(
            f"SELECT {_ENDPOINT} FROM webhook_endpoints WHERE id = $1::uuid" + (" FOR UPDATE" if lock else ""),
            endpoint_id,
        )
        return Endpoint(**row) if row else None

    async def all(self) -> list[Endpoint]:
        rows = await self.conn.fetch(f"SELECT {_ENDPOINT} FROM webhook_endpoints ORDER BY created_at, id")
        return [Endpoint(**r) for r in rows]

    async def update(self, endpoint_id: str, changes: dict[str, Any], now: datetime) -> Endpoint:
        fields = [name for name in _EDITABLE if name in changes]
        sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(fields, start=3))
        row = await self.conn.fetchrow(
            f"UPDATE webhook_endpoints SET updated_at = $2{', ' + sets if sets else ''}"
            f" WHERE id = $1::uuid RETURNING {_ENDPOINT}",
            endpoint_id, now, *(changes[name] for name in fields),
        )
        return Endpoint(**row)

    async def rotate_secret(self, endpoint_id: str, secret_sealed: str, previous_until: datetime,
                            now: datetime) -> Endpoint:
        row = await self.conn.fetchrow(
            "UPDATE webhook_endpoints SET previous_secret_sealed = secret_sealed, secret_sealed = $2,"
            " previous_secret_expires_at = $3, updated_at = $4"
            f" WHERE id = $1::uuid RETURNING {_ENDPOINT}",
            endpoint_id, secret_sealed, previous_until, now,
        )
        return Endpoint(**row)

    async def delete(self, endpoint_id: str) -> bool:
        checked = _uuid(endpoint_id)
        if checked is None:
            return False
        endpoint_id = checked
        status: str = await self.conn.execute("DELETE FROM webhook_endpoints WHERE id = $1::uuid", endpoint_id)
        return status == "DELETE 1"


@dataclass
class Job:
    """One claimed delivery: the message, where it goes and how to sign it."""

    delivery_id: str
    attempts: int
    round_attempts: int
    message_id: str
    type: str
    data_json: str
    occurred_at: datetime
    committed_seconds_ago: float
    endpoint_id: str
    url: str
    secret_sealed: str
    previous_secret_sealed: str | None
    previous_secret_expires_at: datetime | None
    due_at: datetime  # when the attempt fell due (its next_attempt_at before the claim)
    leased_until: datetime  # the claim's lease: the attempt is recorded only while it is the courier's


# Due, pending, of an enabled endpoint, not leased to a sender, and not held back by an
# earlier pending delivery of the same flow (or user) to the same endpoint. SKIP LOCKED lets
# several workers share the work. The claim leases the delivery for $2 seconds (by the
# database's clock) and commits: the POST is made with no connection held. The lease's end is
# also the delivery's next_attempt_at, so a worker that dies before it records the attempt
# leaves a delivery that falls due again when the lease ends (at least once).
_CLAIM = """
WITH due AS (
    SELECT d.id, d.next_attempt_at AS due_at
    FROM webhook_deliveries d
    JOIN webhook_endpoints e ON e.id = d.endpoint_id
    WHERE d.status = 'pending' AND e.enabled
      AND d.next_attempt_at <= clock_timestamp() - CASE WHEN d.round_attempts = 0 THEN $1 ELSE 0 END * interval '1 second'
      AND (d.leased_until IS NULL OR d.leased_until <= clock_timestamp())
      AND NOT EXISTS (
          SELECT 1 FROM webhook_deliveries earlier
          WHERE earlier.endpoint_id = d.endpoint_id AND earlier.ordering_key = d.ordering_key
            AND earlier.status = 'pending' AND earlier.message_seq < d.message_seq)
    ORDER BY d.next_attempt_at, d.message_seq
    LIMIT 1
    FOR UPDATE OF d SKIP LOCKED
), leased AS (
    UPDATE webhook_deliveries d
    SET leased_until = clock_timestamp() + $2 * interval '1 second',
        next_attempt_at = clock_timestamp() + $2 * interval '1 second'
    FROM due WHERE d.id = due.id
    RETURNING d.id, d.attempts, d.round_attempts, d.message_seq, d.endpoint_id, d.leased_until, due.due_at
)
SELECT l.id::text AS delivery_id, l.attempts, l.round_attempts,
       m.id AS message_id, m.type, m.data::text AS data_json, m.occurred_at,
       extract(epoch FROM clock_timestamp() - m.occurred_at)::float8 AS committed_seconds_ago,
       e.id::text AS endpoint_id, e.url, e.secret_sealed, e.previous_secret_sealed, e.previous_secret_expires_at,
       l.due_at, l.leased_until
FROM leased l
JOIN webhook_messages m ON m.seq = l.message_seq
JOIN webhook_endpoints e ON e.id = l.endpoint_id
"""

_DELIVERY = (
    "d.id::text AS id, m.id AS message_id, m.type, m.ordering_key, d.status, d.attempts, d.next_attempt_at,"
    " d.last_attempt_at, d.last_status, d.last_response, d.last_error, d.delivered_at, d.created_at, d.seq"
)


class DeliveryRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def claim(self, first_delay: float = 0.0, lease_seconds: float = 60.0) -> Job | None:
        """The next due delivery, leased to the caller for ``lease_seconds`` once this unit of
        work commits. ``first_delay``: the schedule's wait before a round's first try (0: at once)."""
        row = await self.conn.fetchrow(_CLAIM, first_delay, lease_seconds)
        return Job(**row) if row else None

    async def record(self, job: Job, *, status: str, next_attempt_at: datetime | None, http_status: int | None,
                     response: str | None, error: str | None, now: datetime) -> bool:
        """The attempt's outcome, if the delivery is still leased to ``job`` (False: the lease ran
        out and another worker took the delivery over; the outcome is that worker's to record)."""
        updated: str = await self.conn.execute(
            "UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, round_attempts = round_attempts + 1,"
            " next_attempt_at = COALESCE($3::timestamptz, $8::timestamptz), last_attempt_at = $4, last_status = $5,"
            " last_response = $6, last_error = $7, leased_until = NULL,"
            " delivered_at = CASE WHEN $2 = 'succeeded' THEN $4 ELSE delivered_at END"
            " WHERE id = $1::uuid AND leased_until = $9::timestamptz",
            job.delivery_id, status, next_attempt_at, now, http_status, response, error, job.due_at, job.leased_until,
        )
        return updated.split()[-1] == "1"

    async def of_endpoint(self, endpoint_id: str, status: str | None, before: int | None,
                          limit: int) -> list[dict[str, Any]]:
        rows = await self.conn.fetch(
            f"SELECT {_DELIVERY} FROM webhook_deliveries d JOIN webhook_messages m ON m.seq = d.message_seq"
            " WHERE d.endpoint_id = $1::uuid AND ($2::text IS NULL OR d.status = $2)"
            " AND ($3::bigint IS NULL OR d.seq < $3) ORDER BY d.seq DESC LIMIT $4",
            endpoint_id, status, before, limit,
        )
        return [dict(r) for r in rows]

    async def get(self, endpoint_id: str, delivery_id: str, lock: bool = False) -> dict[str, Any] | None:
        """One delivery; with ``lock``, it and its message are locked until the unit of work
        ends, so that the retention sweep (which skips locked messages) cannot delete them."""
        checked = _uuid(delivery_id)
        if checked is None:
            return None
        delivery_id = checked
        row = await self.conn.fetchrow(
            f"SELECT {_DELIVERY} FROM webhook_deliveries d JOIN webhook_messages m ON m.seq = d.message_seq"
            " WHERE d.endpoint_id = $1::uuid AND d.id = $2::uuid" + (" FOR UPDATE OF d, m" if lock else ""),
            endpoint_id, delivery_id,
        )
        return dict(row) if row else None

    async def retry(self, delivery_id: str, now: datetime) -> None:
        """Start the schedule again for one delivery, due now (a manual retry)."""
        await self.conn.execute(
            "UPDATE webhook_deliveries SET status = 'pending', round_attempts = 0, next_attempt_at = $2"
            " WHERE id = $1::uuid",
            delivery_id, now,
        )

    async def count_by_status(self) -> dict[str, int]:
        rows = await self.conn.fetch("SELECT status, count(*)::int AS n FROM webhook_deliveries GROUP BY status")
        return {r["status"]: r["n"] for r in rows}
