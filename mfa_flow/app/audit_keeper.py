"""Keeping the audit trail up with the log: signed running-hash checkpoints and the Merkle tree.

In steady state that is a few thousand rows every few seconds. After an upgrade, a restore or a
bulk import it is millions of rows, and building them where requests are served would take the
serving processes' CPU (the hashing is Python, on the event loop). So:

- the **worker** keeps the trail (``AuditKeeper.keep``). It holds the keeper's session lock
  (one worker at a time; another takes over if it dies), and works in bounded batches, each its
  own transaction, pausing between them so that the catch-up takes only
  ``MFA_FLOW_AUDIT_CATCH_UP_SHARE`` of the time; it logs its progress and counts it in the
  metrics;
- a **serve** process does a round of one batch every few seconds only while no worker holds
  the lock (``AuditKeeper.tick``: a deployment without a worker still gets its checkpoints), and
  says so in its log when it is far behind;
- ``mfa-flow audit checkpoint`` does a whole catch-up at once, with progress, from the
  command line (``AuditKeeper.catch_up``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Callable

from .. import logs, metrics
from ..keyring import Keyring
from ..settings import Settings
from ..store import Database
from ..store.audit_log import KEEPER_LOCK
from ..store.session_lock import SessionLock
from .audit_checkpoints import CheckpointRound, make_checkpoints

log = logs.get(__name__)

# How often the log says how a catch-up goes, and how often a serve process that is far behind
# says that the worker would do it better.
PROGRESS_SECONDS = 10.0
# Between looks for new rows when caught up (at most; MFA_FLOW_CHECKPOINT_SECONDS if smaller).
IDLE_SECONDS = 5.0
# How long a worker that found the keeper's lock taken waits before it tries again.
STANDBY_SECONDS = 15.0
FAILURE_PAUSE_SECONDS = 2.0

Progress = Callable[[int, int], None]  # (rows done, rows behind at the start)


@dataclass
class CatchUp:
    """One catch-up from the moment a round found more rows than a batch to its end."""

    started: float
    behind_at_start: int
    rows: int = 0
    said_at: float = 0.0

    def rate(self, now: float) -> float:
        return self.rows / max(now - self.started, 1e-9)


def pause_after(took: float, share: float) -> float:
    """How long to rest after a batch that took ``took`` seconds, so that batches take
    ``share`` of the time."""
    return took * (1 - share) / share if share < 1 else 0.0


class AuditKeeper:
    def __init__(self, db: Database, keyring: Keyring, settings: Settings,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.keyring = keyring
        self.settings = settings
        self.clock = clock
        self.started = datetime.now(UTC)
        self._catch_up: CatchUp | None = None
        self._told_at = -PROGRESS_SECONDS  # when a serve process last said it is far behind

    async def round(self, defer_to_keeper: bool = False, force: bool = False) -> CheckpointRound:
        """One batch: at most ``MFA_FLOW_AUDIT_BATCH`` rows, one transaction."""
        s = self.settings
        done = await make_checkpoints(self.db, self.keyring, s.checkpoint_rows, s.checkpoint_seconds, force=force,
                                      since=self.started, batch=s.audit_batch, max_batches=1, origin=s.log_origin,
                                      defer_to_keeper=defer_to_keeper)
        metrics.AUDIT_ROWS_ADDED.inc(done.leaves_added)
        return done

    async def rows_behind(self) -> int:
        async with self.db.unit_of_work() as uow:
            behind: int = await uow.audit.rows_behind()
        metrics.AUDIT_ROWS_BEHIND.set(behind)
        return behind

    # --- the worker ----------------------------------------------------------------------------

    async def keep(self, stopping: asyncio.Event) -> None:
        """The worker's part: hold the keeper's lock and keep the trail up until ``stopping``."""
        while not stopping.is_set():
            try:
                lock = await SessionLock.try_take(self.db.url, KEEPER_LOCK, "mfa-flow audit keeper")
            except Exception as exc:  # the database is away: try again later
                log.warning("audit keeper cannot reach the database", error=type(exc).__name__)
                await _wait(stopping, FAILURE_PAUSE_SECONDS)
                continue
            if lock is None:  # another worker keeps the trail
                await _wait(stopping, STANDBY_SECONDS)
                continue
            log.info("audit keeper started", batch=self.settings.audit_batch,
                     share=self.settings.audit_catch_up_share)
            try:
                await self._keep_while(lock, stopping)
            finally:
                await lock.release()

    async def _keep_while(self, lock: SessionLock, stopping: asyncio.Event) -> None:
        while not stopping.is_set() and await lock.check():
            began = self.clock()
            try:
                done = await self.round()
            except Exception:
                log.exception("audit keeper round failed")
                await _wait(stopping, FAILURE_PAUSE_SECONDS)
                continue
            took = self.clock() - began
            if done.behind:
                await self._progress(done)
                await _wait(stopping, pause_after(took, self.settings.audit_catch_up_share))
            else:
                await self._finished(done)
                await _wait(stopping, min(IDLE_SECONDS, self.settings.checkpoint_seconds))

    async def _progress(self, done: CheckpointRound) -> None:
        now = self.clock()
        if self._catch_up is None:
            behind = await self.rows_behind() + done.leaves_added
            self._catch_up = CatchUp(now, behind, said_at=now)
            log.info("audit catch-up started", rows_behind=behind, batch=self.settings.audit_batch,
                     share=self.settings.audit_catch_up_share)
        catch_up = self._catch_up
        catch_up.rows += done.leaves_added
        if now - catch_up.said_at >= PROGRESS_SECONDS:
            catch_up.said_at = now
            behind = await self.rows_behind()
            rate = catch_up.rate(now)
            log.info("audit catch-up", rows_done=catch_up.rows, rows_behind=behind, rows_per_second=round(rate),
                     eta_seconds=round(behind / rate) if rate else None)

    async def _finished(self, done: CheckpointRound) -> None:
        catch_up, self._catch_up = self._catch_up, None
        if catch_up is not None:
            catch_up.rows += done.leaves_added
            seconds = self.clock() - catch_up.started
            log.info("audit catch-up finished", rows=catch_up.rows, seconds=round(seconds, 1),
                     rows_per_second=round(catch_up.rate(self.clock())))
            await self._analyze_after(catch_up.rows)
        metrics.AUDIT_ROWS_BEHIND.set(0)

    async def _analyze_after(self, rows: int) -> None:
        """Plans cached while the tree was small would outlive a catch-up of many rows until
        autovacuum analyzes; fresh statistics make every connection re-plan now."""
        if rows >= 50_000:
            async with self.db.unit_of_work() as uow:
                await uow.tree.analyze()

    # --- a serve process -------------------------------------------------------------------------

    async def tick(self) -> CheckpointRound:
        """The serving process's round: one batch, and only while no worker keeps the trail."""
        done = await self.round(defer_to_keeper=True)
        if done.behind and self.clock() - self._told_at >= 6 * PROGRESS_SECONDS:
            self._told_at = self.clock()
            log.warning("audit catch-up in the serving process: one batch per round, on the event loop;"
                        " run 'mfa-flow worker' to build it off the request path",
                        rows_behind=await self.rows_behind(), batch=self.settings.audit_batch)
        return done

    # --- the command line ----------------------------------------------------------------------

    async def catch_up(self, progress: Progress | None = None) -> CheckpointRound:
        """Everything at once, a batch per transaction, then a forced last round (a checkpoint
        and a tree head at the newest settled row). Returns what was done in all."""
        behind = await self.rows_behind()
        total = CheckpointRound()
        while True:
            done = await self.round(force=False)
            _add(total, done)
            if progress:
                progress(total.leaves_added, behind)
            if not done.behind:
                break
        last = await self.round(force=True)
        _add(total, last)
        await self._analyze_after(total.leaves_added)
        return total


def _add(total: CheckpointRound, done: CheckpointRound) -> None:
    total.checkpoints += done.checkpoints
    total.rows_hashed += done.rows_hashed
    total.leaves_added += done.leaves_added
    total.tree_head = done.tree_head or total.tree_head


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
