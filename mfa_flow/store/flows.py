"""Flows and their append-only transition log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from ..domain.flow import Flow, Transition, canonical_flow_id
from ..domain.users import User
from . import users
from .audit_log import ROW_COLUMNS

_COLUMNS = (
    "id::text AS id, state, version, mode, user_id, expires_at, attempts_left, context, result,"
    " chain_head, created_at, updated_at, token_digest"
)

# Every lock of a flow's row queues on the flow's advisory lock first, in the same statement.
# The log's global order (xid, id) needs a transaction to take its xid only once the flow's row
# is its own; a SELECT ... FOR UPDATE queued behind two or more others under READ COMMITTED can
# take it earlier (after a wait it follows the row's update chain, which assigns the xid, finds
# the row updated again and waits once more), and would then append the flow's row n+2 with a
# smaller xid than another's row n+1. Waiting on an advisory lock takes no xid, and whoever holds
# it finds the row free. The two-key form (class 'flow') keeps clear of the one-key locks.
_FLOW_LOCK_CLASS = 0x666C6F77
_QUEUED = f"WITH queued AS MATERIALIZED (SELECT pg_advisory_xact_lock({_FLOW_LOCK_CLASS}, hashtext($1::uuid::text)))"
_LOCKED = f"{_QUEUED} SELECT {_COLUMNS} FROM flows, queued WHERE id = $1::uuid FOR UPDATE OF flows"

# The flow and its user, both locked, in one round trip (flow first, then user: the order every
# event takes them in). The user's columns are the user repository's, prefixed.
_USER_COLUMNS = users.COLUMN_NAMES
_FLOW_AND_USER = (
    f"{_QUEUED}, f AS (SELECT {_COLUMNS} FROM flows, queued WHERE id = $1::uuid FOR UPDATE OF flows)"
    f" SELECT f.*, {', '.join(f'u.{c} AS user__{c}' for c in _USER_COLUMNS)}"
    f" FROM f LEFT JOIN LATERAL (SELECT {users._COLUMNS} FROM users WHERE id = f.user_id FOR UPDATE) u ON true"
)

# Payload of the change feed: small, as NOTIFY wants; listeners re-read the flow.
CHANGES_CHANNEL = "flow_changes"


class FlowRepository:
    def __init__(self, conn: asyncpg.Connection):
        self.conn = conn

    async def add(self, flow: Flow) -> None:
        """Insert a new flow and announce it on the change feed (as ``save`` does a change)."""
        await self.conn.execute(
            "INSERT INTO flows (id, token_digest, state, version, mode, user_id, expires_at, attempts_left,"
            " context, result, chain_head, created_at, updated_at)"
            " VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING pg_notify($14, $15)",
            flow.id,
            flow.token_digest,
            flow.state,
            flow.version,
            flow.mode,
            flow.user_id,
            flow.expires_at,
            flow.attempts_left,
            flow.context.to_json(),
            flow.result,
            flow.chain_head,
            flow.created_at,
            flow.updated_at,
            CHANGES_CHANNEL,
            f"{flow.id}:{flow.version}",
        )

    async def get(self, flow_id: str, lock: bool = False) -> Flow | None:
        checked = canonical_flow_id(flow_id)
        if checked is None:
            return None
        flow_id = checked
        row = await self.conn.fetchrow(_LOCKED if lock else f"SELECT {_COLUMNS} FROM flows WHERE id = $1::uuid", flow_id)
        return Flow(**row) if row else None

    async def get_locked_with_user(self, flow_id: str) -> tuple[Flow | None, User | None]:
        """The flow and its user (None when it has none, or when its user was deleted), both
        locked for the rest of the transaction."""
        checked = canonical_flow_id(flow_id)
        if checked is None:
            return None, None
        row = await self.conn.fetchrow(_FLOW_AND_USER, checked)
        if row is None:
            return None, None
        values = dict(row)
        user = {c: values.pop(f"user__{c}") for c in _USER_COLUMNS}
        return Flow(**values), User(**user) if user["id"] is not None else None

    async def save(self, flow: Flow) -> None:
        """Write the flow and announce its new version on the change feed. The NOTIFY rides in
        the UPDATE's RETURNING (one round trip); PostgreSQL delivers it only if this commits."""
        await self.conn.execute(
            "UPDATE flows SET state = $2, version = $3, mode = $4, user_id = $5, attempts_left = $6,"
            " context = $7, result = $8, chain_head = $9, updated_at = $10 WHERE id = $1::uuid"
            " RETURNING pg_notify($11, $12)",
            flow.id,
            flow.state,
            flow.version,
            flow.mode,
            flow.user_id,
            flow.attempts_left,
            flow.context.to_json(),
            flow.result,
            flow.chain_head,
            flow.updated_at,
            CHANGES_CHANNEL,
            f"{flow.id}:{flow.version}",
        )

    async def overdue(self, now: datetime, limit: int = 100) -> list[str]:
        """Open flows past their deadline, the most overdue first (``open_until``: migration 060)."""
        rows = await self.conn.fetch(
            "SELECT id::text FROM flows WHERE open_until <= $1 ORDER BY open_until LIMIT $2",
            now,
            limit,
        )
        return [r["id"] for r in rows]

    async def recent(self, limit: int, before: str | None = None, state: str | None = None,
                     user_id: str | None = None) -> list[Flow]:
        """Flows newest first; ``before`` is the id of the last flow of the previous page."""
        rows = await self.conn.fetch(
            f"SELECT {_COLUMNS} FROM flows"
            " WHERE ($2::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM flows WHERE id = $2::uuid))"
            " AND ($3::text IS NULL OR state = $3) AND ($4::text IS NULL OR user_id = $4)"
            " ORDER BY created_at DESC, id DESC LIMIT $1",
            limit,
            before,
            state,
            user_id,
        )
        return [Flow(**row) for row in rows]

    async def many(self, flow_ids: list[str]) -> list[Flow]:
        rows = await self.conn.fetch(
            f"SELECT {_COLUMNS} FROM flows WHERE id = ANY($1::uuid[]) ORDER BY created_at DESC, id DESC", flow_ids
        )
        return [Flow(**row) for row in rows]

    async def count_by_state(self) -> dict[str, int]:
        rows = await self.conn.fetch("SELECT state, count(*)::int AS n FROM flows GROUP BY state")
        return {r["state"]: r["n"] for r in rows}


_APPEND = ("INSERT INTO transitions (flow_id, seq, event, from_state, to_state, at, actor, data, prev_hash, hash)"
           " VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9, $10)")


class TransitionLog:
    def __init__(self, conn: asyncpg.Connection):
        self.conn = conn

    async def append(self, rows: list[Transition]) -> None:
        """Append a flow's next rows. The transaction must have locked the flow's row before it
        wrote anything else: the global order is (xid, id), a transaction takes its xid at its
        first write or row lock, so only then does a flow's row n+1 always sort after its row n
        (``audit verify`` checks that it does)."""
        values = [(r.flow_id, r.seq, r.event, r.from_state, r.to_state, r.at, r.actor, r.data, r.prev_hash, r.hash)
                  for r in rows]
        if len(values) == 1:  # most steps write one row; executemany costs more for one
            await self.conn.execute(_APPEND, *values[0])
        else:
            await self.conn.executemany(_APPEND, values)

    async def of_flow(self, flow_id: str) -> list[dict[str, Any]]:
        checked = canonical_flow_id(flow_id)
        if checked is None:
            return []
        flow_id = checked
        rows = await self.conn.fetch(
            f"SELECT {ROW_COLUMNS} FROM transitions WHERE flow_id = $1::uuid ORDER BY seq",
            flow_id,
        )
        return [dict(r) for r in rows]
