"""The webhook outbox: messages written in the transaction of the change that caused them.

``add`` inserts the messages and, in the same statement, one pending delivery per enabled
endpoint that subscribes to each message's type (waking the workers if there is one). A rolled-back change leaves neither. A
message no enabled endpoint subscribes to is not kept: with no webhooks registered, a
transition costs one cheap statement more and writes nothing.
The NOTIFY is delivered at commit only, so the worker wakes for committed work alone.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, Iterable

from .. import jsoncodec
from ..webhooks.messages import SECRET_TYPES, Message

# The worker LISTENs here; the payload is empty (it re-reads the deliveries table).
OUTBOX_CHANNEL = "webhook_outbox"

# The secret types as an SQL array literal: constants of the code, spelled into the statement
# rather than sent with every call.
_SECRET_TYPES = "ARRAY[" + ", ".join("'" + t.replace("'", "''") + "'" for t in SECRET_TYPES) + "]::text[]"

_INSERT = """
WITH new_messages AS (
    INSERT INTO webhook_messages (id, type, ordering_key, data, occurred_at)
    SELECT id, type, ordering_key, data::jsonb, occurred_at
    FROM {messages} AS m (id, type, ordering_key, data, occurred_at, n)
    WHERE EXISTS (SELECT 1 FROM webhook_endpoints e
                  WHERE e.enabled AND (m.type = ANY (e.events) OR ('*' = ANY (e.events) AND m.type <> ALL ({secret}))))
    ORDER BY n
    RETURNING seq, type, ordering_key
), new_deliveries AS (
    INSERT INTO webhook_deliveries (message_seq, endpoint_id, ordering_key)
    SELECT m.seq, e.id, m.ordering_key
    FROM new_messages m
    JOIN webhook_endpoints e
      ON e.enabled AND (m.type = ANY (e.events) OR ('*' = ANY (e.events) AND m.type <> ALL ({secret})))
    ORDER BY m.seq
    RETURNING 1
)
-- The workers are woken in the same statement (one round trip), and only when there is work.
SELECT count(*)::int AS due, CASE WHEN count(*) > 0 THEN pg_notify({channel}, '') END AS woken FROM new_deliveries
"""
# A change sends a message or a few (a sign-in's last step: flow.transitioned, flow.completed):
# their values go as rows of parameters, a statement per count, cheaper for both sides than
# five arrays (which cost PostgreSQL more than the insert). Past a few, the arrays.
_AS_VALUES_AT_MOST = 8
_INSERT_MANY = _INSERT.format(
    messages="unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) WITH ORDINALITY",
    secret=_SECRET_TYPES, channel="$6")


@functools.cache
def _insert_values(count: int) -> str:
    rows = ", ".join(f"(${5 * i + 1}::text, ${5 * i + 2}::text, ${5 * i + 3}::text, ${5 * i + 4}::text,"
                     f" ${5 * i + 5}::timestamptz, {i + 1})" for i in range(count))
    return _INSERT.format(messages=f"(VALUES {rows})", secret=_SECRET_TYPES, channel=f"${5 * count + 1}")

# A message occurs before any of its deliveries ends, so the index on occurred_at narrows the
# search to old messages; SKIP LOCKED leaves alone what another worker is deleting.
_FORGET = """
WITH ended AS (
    SELECT m.seq FROM webhook_messages m
    WHERE m.occurred_at < $1
      AND NOT EXISTS (
          SELECT 1 FROM webhook_deliveries d
          WHERE d.message_seq = m.seq
            AND (d.status = 'pending' OR COALESCE(d.delivered_at, d.last_attempt_at, d.created_at) >= $1))
    ORDER BY m.occurred_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), deleted AS (
    DELETE FROM webhook_messages m USING ended WHERE m.seq = ended.seq RETURNING 1
)
SELECT count(*)::int FROM deleted
"""


class OutboxRepository:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def add(self, messages: Iterable[Message]) -> int:
        """Write messages and their deliveries; returns how many deliveries are due."""
        messages = list(messages)
        if not messages:
            return 0
        if len(messages) <= _AS_VALUES_AT_MOST:
            values = [v for m in messages for v in (m.id, m.type, m.ordering_key, jsoncodec.dumps(m.data), m.occurred_at)]
            due: int = await self.conn.fetchval(_insert_values(len(messages)), *values, OUTBOX_CHANNEL)
            return due
        due = await self.conn.fetchval(
            _INSERT_MANY,
            [m.id for m in messages],
            [m.type for m in messages],
            [m.ordering_key for m in messages],
            [jsoncodec.dumps(m.data) for m in messages],
            [m.occurred_at for m in messages],
            OUTBOX_CHANNEL,
        )
        return due

    async def wake_worker(self) -> None:
        """Tell the workers there is work (heard at commit, not before)."""
        await self.conn.execute("SELECT pg_notify($1, '')", OUTBOX_CHANNEL)

    async def forget(self, ended_before: datetime, batch: int) -> int:
        """Delete up to ``batch`` messages (their deliveries go with them) of which no delivery
        is pending and every delivery ended — delivered, or its last try failed — before
        ``ended_before``; a message whose endpoints are all gone counts from when it occurred.
        Returns how many it deleted."""
        value: int = await self.conn.fetchval(_FORGET, ended_before, batch)
        return value

    async def subscribed(self, type_: str) -> bool:
        """Whether an enabled endpoint names ``type_`` (a secret type is never sent through "*")."""
        return bool(await self.conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled AND $1 = ANY (events))", type_
        ))

    async def erase_code(self, message_id: str) -> None:
        """Erase the sealed code of a ``verification_code.requested`` message once no delivery of
        it is pending any more (each endpoint got it, or gave up)."""
        await self.conn.execute(
            "UPDATE webhook_messages m SET data = m.data - 'sealed' WHERE m.id = $1 AND m.data ? 'sealed'"
            " AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.message_seq = m.seq AND d.status = 'pending')",
            message_id,
        )

    async def erase_expired_codes(self, now: datetime) -> list[str]:
        """Erase the sealed codes of expired (or voided) ``verification_code.requested`` messages,
        ending their pending deliveries; returns their code delivery ids."""
        rows = await self.conn.fetch(
            """
            WITH expired AS (
                SELECT seq FROM webhook_messages
                WHERE type = $1 AND data ? 'sealed' AND (data->>'expires_at')::timestamptz <= $2
                FOR UPDATE SKIP LOCKED
            ), ended AS (
                UPDATE webhook_deliveries d SET status = 'failed', last_error = 'the code expired before delivery'
                FROM expired WHERE d.message_seq = expired.seq AND d.status = 'pending'
            )
            UPDATE webhook_messages m SET data = m.data - 'sealed' FROM expired WHERE m.seq = expired.seq
            RETURNING m.data->>'delivery_id' AS delivery_id
            """,
            SECRET_TYPES[0], now,
        )
        return [r["delivery_id"] for r in rows]

    async def void_codes(self, flow_id: str) -> None:
        """A new code voids the flow's previous ones: their sealed copies go, pending or not."""
        await self.conn.execute(
            "UPDATE webhook_messages SET data = data - 'sealed'"
            " WHERE ordering_key = $1 AND type = $2 AND data ? 'sealed'",
            f"flow:{flow_id}", SECRET_TYPES[0],
        )

    async def of_key(self, ordering_key: str) -> list[dict[str, Any]]:
        """The messages about one flow or user, oldest first (for operators and tests)."""
        rows = await self.conn.fetch(
            "SELECT id, type, data, occurred_at FROM webhook_messages WHERE ordering_key = $1 ORDER BY seq",
            ordering_key,
        )
        return [dict(r) for r in rows]
