"""``mfa-flow worker``: delivers webhooks from the outbox, runs the expiry sweep, and keeps the
audit trail (signed checkpoints, the Merkle tree) up with the log (``app/audit_keeper.py``).

Each of ``MFA_FLOW_WEBHOOK_CONCURRENCY`` couriers repeats: claim one due delivery (``FOR
UPDATE SKIP LOCKED``, so several workers share the work) with a lease, commit; POST it with
no database connection held (an endpoint that never answers costs a waiting task, not a
pooled connection); record the answer in a new transaction, if the lease is still the
courier's. If the process dies between the claim and the record, the delivery falls due
again when its lease ends (``LEASE_SECONDS``; at least once: a receiver may see a message
twice, always with the same ``webhook-id``).
Couriers wake on the outbox's NOTIFY (sent at commit), on a retry falling due, or every
``MFA_FLOW_WEBHOOK_POLL_INTERVAL`` seconds (1).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from . import logs, metrics
from .app.audit_keeper import AuditKeeper
from .app.flows import FlowService
from .crypto import SecretBox
from .settings import Settings
from .store import Database
from .store.notifications import Listened, ListeningConnection
from .store.outbox import OUTBOX_CHANNEL
from .store.webhooks import Job
from .webhooks import addresses, delivery, messages, signing
from .webhooks.delivery import TIMEOUT_SECONDS, Attempt

log = logs.get(__name__)

RETENTION_BATCH = 1000  # messages deleted per transaction by the retention sweep
FAILURE_PAUSE_SECONDS = 1.0  # after an error of the worker itself (the database went away)
LEASE_SECONDS = 2 * TIMEOUT_SECONDS  # a claimed delivery is its courier's: twice the longest POST


class Courier(Protocol):
    """What posts a message (``mfa_flow.http.courier.Courier``)."""

    async def post(self, url: str, payload: bytes, headers: dict[str, str], now: Any) -> Attempt: ...
    async def close(self) -> None: ...


class MetricsServer(Protocol):
    async def start(self, host: str, port: int) -> None: ...
    async def stop(self) -> None: ...


def _now() -> datetime:
    return datetime.now(UTC)


class Worker:
    def __init__(self, db: Database, listen_url: str, settings: Settings, box: SecretBox, flows: FlowService,
                 courier: Courier, metrics_server: MetricsServer, audit_keeper: AuditKeeper | None = None) -> None:
        self.db = db
        self.listen_url = listen_url
        self.settings = settings
        self.box = box
        self.flows = flows
        self.courier = courier
        self.metrics_server = metrics_server
        self.audit_keeper = audit_keeper
        self._stopping = asyncio.Event()
        self._signal = asyncio.Event()  # replaced after every wake-up, see _wake

    # --- waking -------------------------------------------------------------------------------

    def _wake(self, *_args: object) -> None:
        """Wake every idle courier. A courier takes the event before it looks for work, so a
        wake-up that comes while it looks is not lost."""
        self._signal.set()
        self._signal = asyncio.Event()

    async def _look_for_work(self, _listened: Listened) -> None:
        self._wake()

    async def _idle(self, wake: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(wake.wait(), seconds)

    # --- delivering ---------------------------------------------------------------------------

    async def _courier(self) -> None:
        while not self._stopping.is_set():
            wake = self._signal
            try:
                worked = await self.deliver_one()
            except Exception:
                log.exception("webhook courier failed; pausing")
                await self._idle(self._stopping, FAILURE_PAUSE_SECONDS)
                continue
            if not worked:
                await self._idle(wake, self.settings.webhook_poll_interval)

    async def deliver_one(self) -> bool:
        """Claim, attempt and record one delivery. False when nothing is due."""
        started = time.perf_counter()
        schedule = self.settings.webhook_retry_schedule
        async with self.db.unit_of_work() as uow:
            job = await uow.deliveries.claim(schedule[0], LEASE_SECONDS)
            await uow.commit()
        if job is None:
            return False
        secret = job.type in messages.SECRET_TYPES
        stored = json.loads(job.data_json) if secret else {}
        if secret and "sealed" not in stored:
            # Erased: the code expired or a newer one voided it. Nothing worth sending.
            attempt = Attempt(None, error="the code expired or was voided before delivery")
            verdict = delivery.Verdict("failed")
        else:
            attempt = await self._post(job, stored)  # no database connection held meanwhile
            verdict = delivery.judge(schedule, job.round_attempts, attempt.http_status, attempt.retry_after)
        now = _now()
        next_at = now + timedelta(seconds=verdict.delay or 0.0) if verdict.status == "pending" else None
        async with self.db.unit_of_work() as uow:
            if not await uow.deliveries.record(job, status=verdict.status, next_attempt_at=next_at,
                                               http_status=attempt.http_status, response=attempt.response,
                                               error=attempt.error, now=now):
                log.warning("webhook attempt not recorded: its lease ran out and another courier took it over",
                            delivery_id=job.delivery_id, message_id=job.message_id)
                return True
            if verdict.disable:
                reason = f"the endpoint answered 410 Gone at {now.isoformat()}"
                await uow.webhooks.update(job.endpoint_id, {"enabled": False, "disabled_reason": reason}, now)
            if secret and verdict.status != "pending":
                await uow.outbox.erase_code(job.message_id)  # once no endpoint still waits for it
            await uow.commit()
        if secret and verdict.status != "pending" and "delivery_id" in stored:
            outcome = "sent" if verdict.status == "succeeded" else "failed"
            await self.flows.codes.webhook_settled(stored["flow_id"], stored["delivery_id"], outcome)
        if next_at is not None:
            # A short retry should not wait for the next poll.
            asyncio.get_running_loop().call_later((verdict.delay or 0.0) + 0.01, self._wake)
        took = time.perf_counter() - started
        outcome = {"pending": "retry"}.get(verdict.status, verdict.status)
        metrics.WEBHOOK_ATTEMPTS.labels(outcome).inc()
        metrics.WEBHOOK_ATTEMPT_SECONDS.observe(took)
        if verdict.status == "succeeded":
            metrics.WEBHOOK_LAG_SECONDS.observe(job.committed_seconds_ago + took)
        log.info(
            "webhook attempt",
            message_id=job.message_id,
            message_type=job.type,
            endpoint_id=job.endpoint_id,
            delivery_id=job.delivery_id,
            attempt=job.attempts + 1,
            http_status=attempt.http_status,
            error=attempt.error,
            outcome=outcome,
            retry_in=verdict.delay if next_at else None,
            endpoint_disabled=verdict.disable or None,
            duration_ms=round(took * 1000, 2),
        )
        return True

    async def _post(self, job: Job, stored: dict[str, Any]) -> Attempt:
        allow_private = self.settings.webhook_allow_private
        try:
            # The URL's shape and, for an IP literal, its address (aiohttp connects to a literal
            # without asking the resolver, so GuardedResolver never sees one).
            target = addresses.check_url(job.url, allow_private)
            if target.plain_http:  # the loopback-only rule of plain http needs the scheme
                await addresses.resolve_checked(target, allow_private)
        except addresses.UnsafeUrl as exc:
            return Attempt(None, error=f"refused: {exc}")
        data_json = job.data_json
        if job.type in messages.SECRET_TYPES:  # stored sealed; opened for this attempt only
            opened = json.loads(self.box.open(stored["sealed"]))
            data_json = json.dumps(messages.code_request_data(stored, opened, self.settings), separators=(",", ":"))
        payload = messages.body(job.type, job.occurred_at, data_json)
        now = _now()
        headers = signing.sign_headers(signing.live_secrets(job, self.box, now), job.message_id,
                                       int(now.timestamp()), payload)
        return await self.courier.post(job.url, payload, headers, _now)

    # --- sweeping -----------------------------------------------------------------------------

    async def _sweeper(self) -> None:
        """Expire overdue flows, so that ``flow.expired`` fires without a client; delete the
        messages whose deliveries ended longer ago than the retention period."""
        while not self._stopping.is_set():
            try:
                await self.flows.expire_overdue()
            except Exception:
                log.exception("expiry sweep failed")
            try:
                await self.forget_old_messages()
            except Exception:
                log.exception("webhook retention sweep failed")
            try:
                await self.flows.codes.send_queued()
                await self.flows.codes.erase_expired()
            except Exception:
                log.exception("code delivery sweep failed")
            await self._idle(self._stopping, self.settings.sweep_interval)

    async def forget_old_messages(self) -> int:
        """Delete, a batch per transaction, the messages of which every delivery ended (was
        delivered, or failed its last try and was not retried) more than
        ``MFA_FLOW_WEBHOOK_RETENTION_DAYS`` ago. Pending deliveries are never deleted."""
        days = self.settings.webhook_retention_days
        if not days:
            return 0
        ended_before = _now() - timedelta(days=days)
        total = 0
        while True:
            async with self.db.unit_of_work() as uow:
                deleted = await uow.outbox.forget(ended_before, RETENTION_BATCH)
                await uow.commit()
            total += deleted
            if deleted < RETENTION_BATCH:
                break
        if total:
            metrics.WEBHOOK_MESSAGES_DELETED.inc(total)
            log.info("webhook retention sweep", messages_deleted=total, ended_before=ended_before.isoformat())
        return total

    # --- running ------------------------------------------------------------------------------

    async def run(self, metrics_port: int | None = None) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stopping.set)
        # LISTEN on the outbox, again after the database restarts or the connection is cut:
        # between the two, NOTIFYs are lost, so couriers look for work on every (re)LISTEN.
        listener = ListeningConnection(self.listen_url, OUTBOX_CHANNEL, self._wake, self._look_for_work,
                                       what="webhook outbox", name="mfa-flow worker")
        await listener.start()
        if metrics_port:
            await self.metrics_server.start(self.settings.host, metrics_port)
        tasks = [asyncio.create_task(self._courier()) for _ in range(self.settings.webhook_concurrency)]
        tasks.append(asyncio.create_task(self._sweeper()))
        if self.audit_keeper is not None:
            tasks.append(asyncio.create_task(self.audit_keeper.keep(self._stopping)))
        log.info("worker started", couriers=self.settings.webhook_concurrency,
                 retry_schedule=list(self.settings.webhook_retry_schedule),
                 allow_private=self.settings.webhook_allow_private, metrics_port=metrics_port)
        await self._stopping.wait()
        log.info("worker stopping: finishing the attempts in flight")
        self._wake()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.courier.close()
        await listener.stop()
        await self.metrics_server.stop()
        log.info("worker stopped")
