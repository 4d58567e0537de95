"""The stored Merkle tree: leaf index ↔ cursor, perfect-subtree hashes, signed tree heads.

Which nodes a root or proof needs, and how they combine, is ``merkle.py``'s business; this
module only reads and writes them, each answer in one round trip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import asyncpg

from ..audit.merkle import Node, is_kept
from ..audit.verify import Cursor


@dataclass(frozen=True)
class StoredHead:
    id: int
    tree_size: int
    root: bytes
    note: str
    verifier_key: str
    at_epoch: float  # when it was signed, seconds since 1970


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
        """The stored hashes of these perfect subtrees (leaf hashes for level 0), in one query."""
        wanted = list(wanted)
        if not wanted:
            return {}
        leaves = [node.position for node in wanted if node.level == 0]
        inner = [node for node in wanted if node.level > 0]
        rows = await self.conn.fetch(
            "SELECT 0 AS level, leaf_index AS idx, leaf_hash AS hash FROM audit_tree_leaves"
            " WHERE leaf_index = ANY($1::bigint[])"
            # LATERAL: one primary-key lookup per wanted node (a join would let the planner,
            # which guesses 100 rows for unnest, scan the whole table).
            " UNION ALL SELECT w.level, w.idx, n.hash FROM unnest($2::smallint[], $3::bigint[]) AS w(level, idx)"
            " CROSS JOIN LATERAL (SELECT hash FROM audit_tree_nodes"
            " WHERE audit_tree_nodes.level = w.level AND audit_tree_nodes.idx = w.idx) AS n",
            leaves,
            [node.level for node in inner],
            [node.position for node in inner],
        )
        return {Node(r["level"], r["idx"]): bytes(r["hash"]) for r in rows}

    async def append(self, first_index: int, cursors: Sequence[Cursor], made: Sequence[tuple[Node, bytes]]) -> None:
        """Store new leaves (their cursors and leaf hashes, from ``first_index`` on, in order)
        and the nodes above them that they complete."""
        leaf_hashes = [value for node, value in made if node.level == 0]
        inner = [(node, value) for node, value in made if node.level > 0 and is_kept(node)]
        await self.conn.execute(
            "INSERT INTO audit_tree_leaves (leaf_index, cursor_xid, cursor_id, leaf_hash)"
            " SELECT $1::bigint + o - 1, x::xid8, i, h"
            " FROM unnest($2::text[], $3::bigint[], $4::bytea[]) WITH ORDINALITY AS c(x, i, h, o)",
            first_index,
            [str(c[0]) for c in cursors],
            [c[1] for c in cursors],
            leaf_hashes,
        )
        await self.conn.execute(
            "INSERT INTO audit_tree_nodes (level, idx, hash)"
            " SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])",
            [node.level for node, _ in inner],
            [node.position for node, _ in inner],
            [value for _, value in inner],
        )

    async def analyze(self) -> None:
        await self.conn.execute("ANALYZE audit_tree_leaves, audit_tree_nodes")

    async def leaf_index(self, cursor: Cursor) -> int | None:
        value: int | None = await self.conn.fetchval(
            "SELECT leaf_index FROM audit_tree_leaves WHERE cursor_xid = $1::text::xid8 AND cursor_id = $2",
            str(cursor[0]),
            cursor[1],
        )
        return value

    # --- signed tree heads ---

    async def add_head(self, tree_size: int, root: bytes, note: str, verifier_key: str) -> int:
        value: int = await self.conn.fetchval(
            "INSERT INTO audit_tree_heads (tree_size, root, note, verifier_key) VALUES ($1, $2, $3, $4) RETURNING id",
            tree_size,
            root,
            note,
            verifier_key,
        )
        return value

    async def latest_head(self) -> StoredHead | None:
        row = await self.conn.fetchrow(
            "SELECT id, tree_size, root, note, verifier_key, extract(epoch FROM at)::float8 AS at_epoch"
            " FROM audit_tree_heads ORDER BY id DESC LIMIT 1"
        )
        return _head(row) if row else None



def _head(row: Mapping[str, Any]) -> StoredHead:
    return StoredHead(row["id"], row["tree_size"], bytes(row["root"]), row["note"], row["verifier_key"], row["at_epoch"])
