"""Rows as a restore or a bulk import writes them: straight into the tables, no service involved."""

from __future__ import annotations

from typing import Any

# A flow id: random (v4), as flows made before time-ordered ids have, or a UUIDv7 of the flow's
# creation time (the row number's milliseconds after it), as the service makes them now.
_IDS = {
    "v4": "gen_random_uuid()",
    "v7": "encode(set_byte(overlay(uuid_send(gen_random_uuid()) placing substring(int8send("
          "(extract(epoch FROM now() - interval '1 day') * 1000)::bigint + g) FROM 3) FROM 1 FOR 6), 6,"
          " (get_byte(uuid_send(gen_random_uuid()), 6) & 15) | 112), 'hex')::uuid",
}

# Finished flows, created a day ago, of two log rows each; each row's hash is a SHA-256, as the
# service's are (so they make proper Merkle leaves), though the rows do not chain (``audit
# verify`` refuses them).
_IMPORTED_FLOWS = """
WITH new_flows AS (
    INSERT INTO flows (id, token_digest, state, version, mode, user_id, expires_at, attempts_left, context, result,
                       chain_head, created_at, updated_at)
    SELECT {id}, '\\x00', 'done', 2, 'verify', 'imported', now() - interval '1 day', 5, '{{}}', NULL, '',
           now() - interval '1 day', now() - interval '1 day'
    FROM generate_series($2::bigint, $2::bigint + $1 - 1) g
    RETURNING id
)
INSERT INTO transitions (flow_id, seq, event, from_state, to_state, at, actor, data, prev_hash, hash)
SELECT id, s.seq, 'imported', 'first_factor', 'done', now() - interval '1 day', 'user', '{{}}', '',
       encode(sha256((id::text || s.seq)::bytea), 'hex')
FROM new_flows, (VALUES (1), (2)) AS s (seq)
"""


async def import_flows(conn: Any, flows: int, batch: int = 100_000, ids: str = "v4") -> None:
    """``flows`` finished flows (2 x ``flows`` log rows), ``batch`` flows per statement, on an
    asyncpg connection or pool; ``ids`` "v4" (random) or "v7" (time-ordered)."""
    sql = _IMPORTED_FLOWS.format(id=_IDS[ids])
    for done in range(0, flows, batch):
        await conn.execute(sql, min(batch, flows - done), done)
