"""What a forger does to a flow's rows so that its own hash chain holds again."""

from __future__ import annotations

from typing import Any

from mfa_flow.audit.verify import row_hash


def rehash_chain(rows: list[dict[str, Any]]) -> str:
    """Recompute every row's prev_hash and hash in order; returns the new chain head."""
    previous = ""
    for row in rows:
        row["prev_hash"] = previous
        row["hash"] = previous = row_hash(row)
    return previous
