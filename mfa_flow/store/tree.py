"""The stored Merkle tree: leaf index ↔ cursor, perfect-subtree hashes, signed tree heads.

Which nodes a root or proof needs, and how they combine, is ``merkle.py``'s business; this
module only reads and writes them, each answer in one round trip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import asyncpg

from ..audit import Cursor
from ..merkle import Node


@dataclass(frozen=True)
class StoredHead:
    id: int
    tree_size: int
    root: bytes
    note: str
    verifier_key: str


class MerkleTreeStore:
    def __init__(self, conn: asyncpg.Connection):
        self.conn = conn

    async def size_and_cursor(self) -> tuple[int, Cursor]:
        """How many leaves the tree has, and the cursor of its last leaf ((0, 0) when empty)."""
        row = await self.conn.fetchrow(
            "SELECT leaf_index, cursor_xid::text AS xid, cursor_id FROM audit_tree_leaves"
            " ORDER BY leaf_index DESC LIMIT 1"
        )
        if row is None:
            return 0, (0, 0)
        return row["leaf_index"] + 1, (int(row["xid"]), row["cursor_id"])

    async def nodes(self, wanted: Iterable[Node]) -> dict[Node, bytes]:
        wanted = list(wanted)
        if not wanted:
            return {}
        rows = await self.conn.fetch(
            "SELECT n.level, n.idx, n.hash FROM audit_tree_nodes n"
            " JOIN unnest($1::smallint[], $2::bigint[]) AS w(level, idx) USING (level, idx)",
            [node.level for node in wanted],
            [node.index for node in wanted],
        )
        return {Node(r["level"], r["idx"]): bytes(r["hash"]) for r in rows}

    async def append(self, first_index: int, cursors: Sequence[Cursor], made: Sequence[tuple[Node, bytes]]) -> None:
        """Store new leaves (their cursors, from ``first_index`` on) and the nodes they complete."""
        await self.conn.execute(
            "INSERT INTO audit_tree_leaves (leaf_index, cursor_xid, cursor_id)"
            " SELECT $1::bigint + o - 1, x::xid8, i FROM unnest($2::text[], $3::bigint[]) WITH ORDINALITY AS c(x, i, o)",
            first_index,
            [str(c[0]) for c in cursors],
            [c[1] for c in cursors],
        )
        await self.conn.execute(
            "INSERT INTO audit_tree_nodes (level, idx, hash)"
            " SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])",
            [node.level for node, _ in made],
            [node.index for node, _ in made],
            [value for _, value in made],
        )

    async def leaf_index(self, cursor: Cursor) -> int | None:
        return await self.conn.fetchval(
            "SELECT leaf_index FROM audit_tree_leaves WHERE cursor_xid = $1::text::xid8 AND cursor_id = $2",
            str(cursor[0]),
            cursor[1],
        )

    async def leaf_indexes(self, cursors: Sequence[Cursor]) -> dict[Cursor, int]:
        rows = await self.conn.fetch(
            "SELECT l.cursor_xid::text AS xid, l.cursor_id, l.leaf_index FROM audit_tree_leaves l"
            " JOIN unnest($1::text[], $2::bigint[]) AS c(x, i) ON l.cursor_xid = c.x::xid8 AND l.cursor_id = c.i",
            [str(c[0]) for c in cursors],
            [c[1] for c in cursors],
        )
        return {(int(r["xid"]), r["cursor_id"]): r["leaf_index"] for r in rows}

    # --- signed tree heads ---

    async def add_head(self, tree_size: int, root: bytes, note: str, verifier_key: str) -> int:
        return await self.conn.fetchval(
            "INSERT INTO audit_tree_heads (tree_size, root, note, verifier_key) VALUES ($1, $2, $3, $4) RETURNING id",
            tree_size,
            root,
            note,
            verifier_key,
        )

    async def latest_head(self) -> StoredHead | None:
        row = await self.conn.fetchrow(
            "SELECT id, tree_size, root, note, verifier_key FROM audit_tree_heads ORDER BY id DESC LIMIT 1"
        )
        return _head(row) if row else None

    async def last_head_epoch(self) -> float | None:
        return await self.conn.fetchval("SELECT extract(epoch FROM max(at))::float8 FROM audit_tree_heads")


def _head(row: Mapping[str, Any]) -> StoredHead:
    return StoredHead(row["id"], row["tree_size"], bytes(row["root"]), row["note"], row["verifier_key"])
