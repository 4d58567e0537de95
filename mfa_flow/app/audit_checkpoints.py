"""Signed checkpoints of the transition log: every N settled rows, or every so many seconds,
one process at a time (an advisory lock), signed with the service's current key."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..audit.verify import format_cursor, next_running_hash, parse_cursor
from ..domain.flow import iso
from ..keyring import Keyring
from ..store import Database
from ..store.tree import StoredHead
from ..tokens import CHECKPOINT_ALG, ED25519, sign_checkpoint
from . import transparency


def _now() -> datetime:
    return datetime.now(UTC)


def _parse_at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass
class CheckpointRound:
    """What one round of the checkpoint maker did."""

    checkpoints: list[int] = field(default_factory=list)  # running-hash checkpoints signed
    rows_hashed: int = 0  # rows the running hash took in
    leaves_added: int = 0  # rows appended to the Merkle tree
    tree_head: StoredHead | None = None  # the tree head signed, if any
    behind: bool = False  # its batches were full: more settled rows wait for the next round
    deferred: bool = False  # nothing done: another process keeps the audit trail (the worker)


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
    defer_to_keeper: bool = False,
) -> CheckpointRound:
    """Sign a checkpoint every ``every_rows`` settled rows, and one at the newest settled row
    when ``every_seconds`` passed since the last checkpoint (or ``since``) or with ``force``.
    With a log ``origin``, also extend the Merkle tree with the settled rows and sign a tree
    head on the same schedule. At most ``max_batches`` of ``batch`` rows, in one transaction;
    one writer at a time across processes. With ``defer_to_keeper``, nothing is done while
    another process keeps the audit trail (the worker, see ``audit_keeper``).

    Each batch of rows is read once for both: the running hash and the tree each take the
    rows after their own cursor (after an upgrade the tree starts behind the checkpoints and
    takes rows alone until it reaches them; from then on the two advance together)."""
    done = CheckpointRound()
    made = done.checkpoints
    async with db.unit_of_work() as uow:
        if defer_to_keeper and await uow.audit.keeper_elsewhere():
            done.deferred = True
            return done
        if not await uow.audit.try_lock_checkpointing():
            return done
        last = await uow.audit.last_checkpoint()
        cursor = parse_cursor(last.cursor) if last else (0, 0)
        rows = last.rows if last else 0
        running = last.running_hash if last else ""
        last_at = _parse_at(last.at) if last else (since or _now())
        key = await keyring.signing_key(uow, ED25519)
        tree = await transparency.TreeGrowth(uow).start() if origin is not None else None
        pending = 0

        async def sign(at: datetime) -> None:
            fields = {"cursor": format_cursor(cursor), "rows": rows, "running_hash": running, "at": iso(at)}
            signature = sign_checkpoint(key, CHECKPOINT_ALG, fields)
            made.append(await uow.audit.add_checkpoint(cursor, rows, running, at, key.kid, signature))

        for _ in range(max_batches):
            lead = min(cursor, tree.cursor) if tree is not None else cursor
            hashes = await uow.audit.settled_hashes(lead, batch)
            for row_cursor, row_hash in hashes:
                if row_cursor <= cursor:
                    continue  # the tree's, still catching up with the checkpoints
                cursor, rows, pending = row_cursor, rows + 1, pending + 1
                done.rows_hashed += 1
                running = next_running_hash(running, row_hash)
                if pending >= every_rows:
                    await sign(_now())
                    last_at, pending = _now(), 0
            if tree is not None:
                await tree.add([row for row in hashes if row[0] > tree.cursor])
            if len(hashes) < batch:
                break
        else:
            done.behind = True
        now = _now()
        if pending and (force or (now - last_at).total_seconds() >= every_seconds):
            await sign(now)
        if tree is not None and origin is not None:
            done.leaves_added = await tree.finish()
            done.tree_head = await transparency.maybe_sign_tree_head(
                uow, keyring, origin, every_rows, every_seconds, force, since, behind=done.behind
            )
        await uow.commit()
    return done
