"""Signed checkpoints of the transition log: every N settled rows, or every so many seconds,
one process at a time (an advisory lock), signed with the service's current key."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..domain.flow import iso
from ..keyring import Keyring
from ..store import Database
from ..store.tree import StoredHead
from ..tokens import CHECKPOINT_ALG, ED25519, sign_checkpoint
from . import transparency
from .verify import format_cursor, next_running_hash, parse_cursor


def _now() -> datetime:
    return datetime.now(UTC)


def _parse_at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass
class CheckpointRound:
    """What one round of the checkpoint maker did."""

    checkpoints: list[int] = field(default_factory=list)  # running-hash checkpoints signed
    leaves_added: int = 0  # rows appended to the Merkle tree
    tree_head: StoredHead | None = None  # the tree head signed, if any


async def make_checkpoints(
    db: Database,
    keyring: Keyring,
    every_rows: int,
    every_seconds: float,
    force: bool = False,
    since: datetime | None = None,
    batch: int = 5000,
    max_batches: int = 40,
    origin: str | None = None,
) -> CheckpointRound:
    """Sign a checkpoint every ``every_rows`` settled rows, and one at the newest settled row
    when ``every_seconds`` passed since the last checkpoint (or ``since``) or with ``force``.
    With a log ``origin``, also extend the Merkle tree with the settled rows and sign a tree
    head on the same schedule. One writer at a time across processes."""
    done = CheckpointRound()
    made = done.checkpoints
    async with db.unit_of_work() as uow:
        if not await uow.audit.try_lock_checkpointing():
            return done
        last = await uow.audit.last_checkpoint()
        cursor = parse_cursor(last.cursor) if last else (0, 0)
        rows = last.rows if last else 0
        running = last.running_hash if last else ""
        last_at = _parse_at(last.at) if last else (since or _now())
        key = await keyring.signing_key(uow, ED25519)
        pending = 0

        async def sign(at: datetime) -> None:
            fields = {"cursor": format_cursor(cursor), "rows": rows, "running_hash": running, "at": iso(at)}
            signature = sign_checkpoint(key, CHECKPOINT_ALG, fields)
            made.append(await uow.audit.add_checkpoint(cursor, rows, running, at, key.kid, signature))

        for _ in range(max_batches):
            hashes = await uow.audit.settled_hashes(cursor, batch)
            for row_cursor, row_hash in hashes:
                cursor, rows, pending = row_cursor, rows + 1, pending + 1
                running = next_running_hash(running, row_hash)
                if pending >= every_rows:
                    await sign(_now())
                    last_at, pending = _now(), 0
            if len(hashes) < batch:
                break
        now = _now()
        if pending and (force or (now - last_at).total_seconds() >= every_seconds):
            await sign(now)
        if origin is not None:
            done.leaves_added = await transparency.extend_tree(uow, batch, max_batches)
            done.tree_head = await transparency.maybe_sign_tree_head(
                uow, keyring, origin, every_rows, every_seconds, force, since
            )
        await uow.commit()
    return done
