"""Rows as a restore or a bulk import writes them: straight into the tables, no service involved."""

from __future__ import annotations

from typing import Any

# Finished flows of two log rows each; each row's hash is a SHA-256, as the service's are (so
# they make proper Merkle leaves), though the rows do not chain (``audit verify`` refuses them).
IMPORTED_FLOWS = """
WITH new_flows AS (
    INSERT INTO flows (id, token_digest, state, version, mode, user_id, expires_at, attempts_left, context, result,
                       chain_head, created_at, updated_at)
    SELECT gen_random_uuid(), '\\x00', 'done', 2, 'verify', 'imported', now() - interval '1 day', 5, '{}', NULL, '',
           now() - interval '1 day', now() - interval '1 day'
    FROM generate_series(1, $1)
    RETURNING id
)
INSERT INTO transitions (flow_id, seq, event, from_state, to_state, at, actor, data, prev_hash, hash)
SELECT id, s.seq, 'imported', 'first_factor', 'done', now() - interval '1 day', 'user', '{}', '',
       encode(sha256((id::text || s.seq)::bytea), 'hex')
FROM new_flows, (VALUES (1), (2)) AS s (seq)
"""


async def import_flows(conn: Any, flows: int, batch: int = 100_000) -> None:
    """``flows`` finished flows (2 x ``flows`` log rows), ``batch`` flows per statement, on an
    asyncpg connection or pool."""
    for done in range(0, flows, batch):
        await conn.execute(IMPORTED_FLOWS, min(batch, flows - done))
