"""The transition log read in its global order, checkpoints, and the retention purge.

The global order is (xid, id): the writing transaction's id, then the row id. Readers that
resume from a cursor are only handed rows below ``pg_snapshot_xmin(pg_current_snapshot())``,
the oldest transaction still running: nothing can commit below that horizon any more.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, AsyncIterator

import asyncpg

from ..audit.verify import Checkpoint, Cursor, FlowHead
from ..domain.machine import TERMINAL_STATES

ROW_COLUMNS = (
    "xid::text || '-' || id::text AS cursor, flow_id::text AS flow_id, seq, event, from_state, to_state,"
    " at, actor, data, prev_hash, hash"
)
# Any constant will do, as long as every process of the service uses the same one.
_CHECKPOINT_LOCK = 0x6D66615F61756474  # "mfa_audt"
# Held (session-level) by the process that keeps the audit trail up, the worker: while it is
# held, the serving processes leave the checkpoints and the tree to it.
KEEPER_LOCK = 0x6D66615F6B656570  # "mfa_keep"
_AFTER = "(xid, id) > ($1::text::xid8, $2::bigint)"
_SETTLED = "xid < pg_snapshot_xmin(pg_current_snapshot())"
_CHECKPOINT_COLUMNS = (
    "id, cursor_xid::text || '-' || cursor_id::text AS cursor, rows, running_hash,"
    " to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS at, kid, signature"
)


class AuditLog:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def settled_rows(self, after: Cursor, limit: int) -> list[dict[str, Any]]:
        """Rows after ``after`` in the global order, only below the in-flight horizon."""
        rows = await self.conn.fetch(
            f"SELECT {ROW_COLUMNS} FROM transitions WHERE {_AFTER} AND {_SETTLED} ORDER BY xid, id LIMIT $3",
            str(after[0]),
            after[1],
            limit,
        )
        return [dict(r) for r in rows]

    async def settled_hashes(self, after: Cursor, limit: int) -> list[tuple[Cursor, str]]:
        rows = await self.conn.fetch(
            f"SELECT xid::text AS row_xid, id, hash FROM transitions WHERE {_AFTER} AND {_SETTLED}"
            " ORDER BY xid, id LIMIT $3",
            str(after[0]),
            after[1],
            limit,
        )
        return [((int(r["row_xid"]), r["id"]), r["hash"]) for r in rows]

    async def all_rows(self, prefetch: int = 5000) -> AsyncIterator[dict[str, Any]]:
        """Every visible row in the global order (call inside a repeatable-read transaction)."""
        async for row in self.conn.cursor(f"SELECT {ROW_COLUMNS} FROM transitions ORDER BY xid, id", prefetch=prefetch):
            yield row

    async def count(self) -> int:
        value: int = await self.conn.fetchval("SELECT count(*) FROM transitions")
        return value

    async def flow_heads(self) -> list[FlowHead]:
        rows = await self.conn.fetch("SELECT id::text AS id, state, version, chain_head FROM flows")
        return [FlowHead(**r) for r in rows]

    # --- checkpoints ---

    async def checkpoints(self, after_id: int = 0, limit: int | None = None) -> list[Checkpoint]:
        rows = await self.conn.fetch(
            f"SELECT {_CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE id > $1 ORDER BY id LIMIT $2",
            after_id,
            limit,
        )
        return [Checkpoint(**r) for r in rows]

    async def last_checkpoint(self) -> Checkpoint | None:
        row = await self.conn.fetchrow(f"SELECT {_CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY id DESC LIMIT 1")
        return Checkpoint(**row) if row else None

    async def add_checkpoint(self, cursor: Cursor, rows: int, running_hash: str, at: datetime, kid: str,
                             signature: str) -> int:
        value: int = await self.conn.fetchval(
            "INSERT INTO audit_checkpoints (cursor_xid, cursor_id, rows, running_hash, at, kid, signature)"
            " VALUES ($1::text::xid8, $2, $3, $4, $5, $6, $7) RETURNING id",
            str(cursor[0]),
            cursor[1],
            rows,
            running_hash,
            at,
            kid,
            signature,
        )
        return value

    async def try_lock_checkpointing(self) -> bool:
        """One checkpoint writer at a time across all processes (released at commit)."""
        value: bool = await self.conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _CHECKPOINT_LOCK)
        return value

    async def keeper_elsewhere(self) -> bool:
        """Whether another process keeps the audit trail (holds ``KEEPER_LOCK``). Answered by
        taking the lock shared until the end of this transaction, so that the keeper cannot
        start in the middle of it."""
        return not await self.conn.fetchval("SELECT pg_try_advisory_xact_lock_shared($1)", KEEPER_LOCK)

    async def rows_behind(self) -> int:
        """About how many rows the Merkle tree has yet to take in: the rows numbered after the
        tree's last leaf (ids come from one sequence, in about the log's order; ids that rolled-
        back transactions drew count too, so this can be a little high). Two index reads."""
        value: int = await self.conn.fetchval(
            "SELECT greatest(0, (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM transitions_id_seq)"
            " - coalesce((SELECT cursor_id FROM audit_tree_leaves ORDER BY leaf_index DESC LIMIT 1), 0))"
        )
        return value

    # --- retention ---

    async def base_checkpoint(self) -> Checkpoint | None:
        """The checkpoint of the latest purge: rows up to it may be gone, the chain resumes there."""
        row = await self.conn.fetchrow(
            f"SELECT {_CHECKPOINT_COLUMNS} FROM audit_checkpoints"
            " WHERE id = (SELECT checkpoint_id FROM audit_purges ORDER BY id DESC LIMIT 1)"
        )
        return Checkpoint(**row) if row else None

    async def purge(self, checkpoint: Checkpoint, older_than: datetime) -> tuple[int, int]:
        """Remove finished flows (and their rows) that lie wholly at or below ``checkpoint``
        and last changed before ``older_than``; log the purge. Returns (flows, rows)."""
        await self.conn.execute("SET LOCAL mfa_flow.purge = 'on'")
        xid, row_id = checkpoint.cursor.split("-")
        doomed = await self.conn.fetch(
            "SELECT f.id FROM flows f WHERE f.state = ANY($1::text[]) AND f.updated_at < $2"
            " AND NOT EXISTS (SELECT 1 FROM transitions t WHERE t.flow_id = f.id"
            " AND (t.xid, t.id) > ($3::text::xid8, $4::bigint))",
            list(TERMINAL_STATES),
            older_than,
            xid,
            int(row_id),
        )
        ids = [r["id"] for r in doomed]
        status = await self.conn.execute("DELETE FROM transitions WHERE flow_id = ANY($1::uuid[])", ids)
        await self.conn.execute("DELETE FROM flows WHERE id = ANY($1::uuid[])", ids)
        removed_rows = int(status.split()[-1])
        await self.conn.execute(
            "INSERT INTO audit_purges (checkpoint_id, flows, transitions) VALUES ($1, $2, $3)",
            checkpoint.id,
            len(ids),
            removed_rows,
        )
        return len(ids), removed_rows

