"""Sending the codes that flows issued, after the event that issued them committed.

The event's transaction only queues a code (``code_deliveries``, the destination and the code
sealed) and keeps its digest in the flow, so a slow or broken SMTP server never holds a flow's
row lock, never undoes a step, and never loses a code that was issued: right after the commit
the process that served the event claims the message with a lease (``sending_until``, set in
a transaction of its own that commits at once), sends it with no database connection held,
then, in a second transaction, erases the sealed copy and records the outcome in the flow
with a ``code_delivery`` step (actor ``system``), so that whoever follows the flow sees
``sent`` or ``failed``. A mail server that hangs therefore costs a waiting task, never a
pooled connection. Should that process die between the claim and the record, the message
stays queued and a sweep sends it again once the lease ends: at least once, with the same
``Message-ID`` (``mail.message_id``), so a receiver can drop the copy of a message whose
``250`` was lost. Codes that go by webhook travel in the webhook outbox; the worker tells
this service how their delivery ended.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from .. import logs, metrics, texts
from ..crypto import SecretBox
from ..domain.flow import Flow, Transition
from ..mail import SEND_DEADLINE_SECONDS, Mailer, MailUnavailable, SmtpServer, code_message
from ..settings import Settings
from ..store import Database
from .pipeline import Pipeline

log = logs.get(__name__)

# The worker leaves a fresh message to the process that queued it (which sends it at once).
LEFT_OVER_AFTER = timedelta(seconds=30)
# How long a claimed message is its sender's: twice the longest a send may take.
SEND_LEASE_SECONDS = 2 * SEND_DEADLINE_SECONDS


def _now() -> datetime:
    return datetime.now(UTC)


class CodeDeliveries:
    def __init__(self, db: Database, settings: Settings, box: SecretBox, pipeline: Pipeline) -> None:
        self.db = db
        self.settings = settings
        self.box = box
        self.pipeline = pipeline
        self.mailer = Mailer(SmtpServer.from_url(settings.smtp_url), settings.smtp_from) if settings.smtp_url else None

    async def send_queued(self, flow_id: str | None = None) -> tuple[int, Flow | None]:
        """Send the queued SMTP messages of one flow (or, without ``flow_id``, every one left
        queued for longer than a moment: the worker's sweep). Returns how many it settled, and
        the flow as the last outcome left it (None if none moved a flow)."""
        settled, latest = 0, None
        while True:
            async with self.db.unit_of_work() as uow:
                older_than = None if flow_id else _now() - LEFT_OVER_AFTER
                message = await uow.code_deliveries.claim(SEND_LEASE_SECONDS, flow_id=flow_id, older_than=older_than)
                await uow.commit()
            if message is None:
                return settled, latest
            outcome, error = await self._send(message.id, message.message_sealed, message.expires_at)
            started = time.perf_counter()
            async with self.db.unit_of_work() as uow:
                flow = await uow.flows.get(message.flow_id, lock=True)  # first: see Pipeline.delivery_settled
                if await uow.code_deliveries.settle(message.id, outcome, _now(), error,
                                                    lease=message.sending_until) is None:
                    # The lease ran out during the send and another sender took the message over:
                    # its outcome is that sender's to record.
                    log.warning("code delivery lease lost", flow_id=message.flow_id, delivery_id=message.id)
                    continue
                moved = await self.pipeline.delivery_settled(uow, flow, message.id, outcome)
                await uow.commit()
            settled += 1
            metrics.CODE_DELIVERIES.labels(message.channel, "smtp", outcome).inc()
            log.info("code delivery", flow_id=message.flow_id, delivery_id=message.id, channel=message.channel,
                     via="smtp", outcome=outcome, error=error)
            latest = self._recorded(moved, started) or latest

    async def _send(self, delivery_id: str, sealed: str | None, expires_at: datetime) -> tuple[str, str | None]:
        if sealed is None:
            return "failed", "the message was voided before it was sent"
        if expires_at <= _now():
            return "failed", "the code expired before it was sent"
        if self.mailer is None:
            return "failed", "MFA_FLOW_SMTP_URL is not set in this process"
        opened = json.loads(self.box.open(sealed))
        message = code_message(sender=self.mailer.sender, to=opened["to"], code=opened["code"],
                               product=self.settings.issuer, minutes=max(1, round(self.settings.code_ttl / 60)),
                               locale=texts.chosen(opened.get("locale"), self.settings.default_locale),
                               delivery_id=delivery_id)
        try:
            await self.mailer.send(message)
        except MailUnavailable as exc:
            log.warning("smtp send failed", error=str(exc))
            return "failed", str(exc)
        return "sent", None

    async def webhook_settled(self, flow_id: str, delivery_id: str, outcome: str) -> None:
        """A ``verification_code.requested`` message was delivered (``sent``) or given up
        (``failed``): record it in the ledger and, if the flow still waits for it, in the flow."""
        started = time.perf_counter()
        async with self.db.unit_of_work() as uow:
            flow = await uow.flows.get(flow_id, lock=True)  # first: see Pipeline.delivery_settled
            channel = await uow.code_deliveries.settle(delivery_id, outcome, _now(),
                                                       None if outcome == "sent" else "the webhook was not delivered")
            moved = await self.pipeline.delivery_settled(uow, flow, delivery_id, outcome)
            await uow.commit()
        if channel is not None:
            metrics.CODE_DELIVERIES.labels(channel, "webhook", outcome).inc()
        self._recorded(moved, started)

    async def erase_expired(self) -> int:
        """The sweeps: the sealed copies of expired codes still in the webhook outbox go (their
        deliveries end as failed), and the flows that waited for them say so; ledger rows older
        than any flow that could read them (a day, or two flow lifetimes) are deleted."""
        now = _now()
        async with self.db.unit_of_work() as uow:
            delivery_ids = await uow.outbox.erase_expired_codes(now)
            await uow.code_deliveries.forget(now - max(timedelta(days=1), 2 * timedelta(seconds=self.settings.flow_ttl)))
            await uow.commit()
        for delivery_id in delivery_ids:
            await self._settle_expired(delivery_id)
        return len(delivery_ids)

    async def _settle_expired(self, delivery_id: str) -> None:
        async with self.db.unit_of_work() as uow:
            flow_id = await uow.code_deliveries.flow_of(delivery_id)
            await uow.commit()
        if flow_id is not None:
            await self.webhook_settled(flow_id, delivery_id, "failed")

    def _recorded(self, settled: tuple[Flow, list[Transition]] | None, started: float) -> Flow | None:
        if settled is None:
            return None
        self.pipeline.record(settled[0], settled[1], started)
        return settled[0]
