"""Codes that were issued but not sent when their event committed: the sweeps send them, or fail
them once expired; an expired code waiting in the webhook outbox is erased (in process, real
database, a real SMTP server)."""

from __future__ import annotations

import asyncio

import pytest

from mfa_flow import bootstrap
from mfa_flow.app.commands import ClientEvent
from mfa_flow.crypto import token_digest
from mfa_flow.domain.access import FLOW_TOKEN, Principal
from mfa_flow.domain.flow import Flow
from mfa_flow.store import Database
from tests.integration.conftest import PASSWORD, InProcess, ServiceWith
from tests.support.smtp import SmtpServer


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server.mailbox, server.url
    server.stop()


async def committed_but_not_sent(service: InProcess, factor: str, **destination: str) -> Flow:
    """A user with ``factor`` signs in; the event commits (a code queued) and its process stops
    before it sends: the pipeline alone, without the send that follows the commit."""
    await service.configure([factor], "mandatory")
    user = await service.new_user()
    await service.management.add_factor(user["id"], {"type": factor, **destination})
    flow = await service.start()
    who = Principal(FLOW_TOKEN, token_digest(service.tokens[flow.id]))
    event = {"type": "submit_password", "username": user["username"], "password": PASSWORD}
    return await service.flows.pipeline.apply(ClientEvent(flow.id, event["type"], event, who))


def delivery(service: InProcess, flow: Flow) -> str | None:
    return service.flows.view(flow, owner=True)["challenge"]["delivery"]


async def test_a_code_left_queued_goes_with_the_next_sweep_and_the_flow_says_so(service_with: ServiceWith, smtp):
    mailbox, url = smtp
    service = await service_with(smtp_url=url)
    flow = await committed_but_not_sent(service, "email_code", email="left@example.com")
    assert delivery(service, flow) == "queued" and mailbox.received == []
    assert await service.flows.codes.send_queued() == (0, None), "a fresh message is left to its own process"

    await service.db.pool.execute("UPDATE code_deliveries SET created_at = created_at - interval '1 minute'")
    settled, _ = await service.flows.codes.send_queued()
    assert settled == 1 and [m["To"] for m in mailbox.received] == ["left@example.com"]
    stored = await service.stored(flow.id)
    assert delivery(service, stored) == "sent"
    assert [(r["event"], r["data"]["guard"], r["actor"]) for r in (await service.log(flow.id))[-1:]] == [
        ("code_delivery", "code_delivered", "system")]
    sealed = await service.db.pool.fetchval("SELECT count(*) FROM code_deliveries WHERE message_sealed IS NOT NULL")
    assert sealed == 0, "the sealed copy goes once the message is sent"


async def test_a_code_left_queued_past_its_life_is_failed_not_sent(service_with: ServiceWith, smtp):
    mailbox, url = smtp
    service = await service_with(smtp_url=url)
    flow = await committed_but_not_sent(service, "email_code", email="late@example.com")
    await service.db.pool.execute("UPDATE code_deliveries SET created_at = now() - interval '20 minutes',"
                                  " expires_at = now() - interval '10 minutes'")
    assert (await service.flows.codes.send_queued())[0] == 1
    assert mailbox.received == [] and delivery(service, await service.stored(flow.id)) == "failed"
    row = await service.db.pool.fetchrow("SELECT status, message_sealed, last_error FROM code_deliveries")
    assert (row["status"], row["message_sealed"], row["last_error"]) == ("failed", None,
                                                                         "the code expired before it was sent")


async def test_an_expired_code_in_the_webhook_outbox_is_erased_and_its_delivery_ended(service: InProcess):
    await service.webhooks.create({"url": "http://127.0.0.1:9/hook", "events": ["verification_code.requested"]})
    flow = await committed_but_not_sent(service, "sms_code", phone="+14155550125")  # goes by webhook
    assert delivery(service, flow) == "queued"
    assert await service.db.pool.fetchval("SELECT count(*) FROM webhook_messages WHERE data ? 'sealed'") == 1
    assert await service.flows.codes.erase_expired() == 0, "a live code stays"

    await service.db.pool.execute(
        "UPDATE webhook_messages SET data = jsonb_set(data, '{expires_at}', '\"2000-01-01T00:00:00.000000Z\"')")
    assert await service.flows.codes.erase_expired() == 1
    assert await service.db.pool.fetchval("SELECT count(*) FROM webhook_messages WHERE data ? 'sealed'") == 0
    assert await service.db.pool.fetchval("SELECT status FROM webhook_deliveries") == "failed"
    assert delivery(service, await service.stored(flow.id)) == "failed"


async def test_a_new_code_does_not_wait_for_the_old_one_being_sent(service_with: ServiceWith, smtp):
    """The old message is leased to its sender (which holds no connection while it sends);
    send_code holds the flow's lock and voids the old message: it skips the one being sent
    instead of waiting for it, and the old one's outcome no longer moves the flow."""
    mailbox, url = smtp
    service = await service_with(smtp_url=url, code_resend=0)
    flow = await committed_but_not_sent(service, "email_code", email="race@example.com")
    async with service.db.unit_of_work() as sender:
        old = await sender.code_deliveries.claim(60, flow_id=flow.id)
        assert old is not None
        await sender.commit()
    flow = await asyncio.wait_for(service.send(flow.id, "send_code"), 10)
    assert delivery(service, flow) == "sent"  # the new code went; the old one is still being sent
    async with service.db.unit_of_work() as recorder:
        locked = await recorder.flows.get(flow.id, lock=True)
        moved = await service.flows.pipeline.delivery_settled(recorder, locked, old.id, "sent")
        assert moved is None, "the old code's outcome no longer matters to the flow"
        assert await recorder.code_deliveries.settle(old.id, "sent", flow.updated_at, lease=old.sending_until)
        await recorder.commit()
    assert len(mailbox.received) == 1


async def test_a_claimed_message_is_its_senders_until_the_lease_ends(service_with: ServiceWith, smtp):
    """A claim commits at once and holds nothing; a second claim skips the message while the
    lease runs, takes it over once it ended, and then only the new lease records the outcome."""
    _mailbox, url = smtp
    service = await service_with(smtp_url=url)
    flow = await committed_but_not_sent(service, "email_code", email="lease@example.com")
    async with service.db.unit_of_work() as first:
        claimed = await first.code_deliveries.claim(60, flow_id=flow.id)
        await first.commit()
    assert claimed is not None
    async with service.db.unit_of_work() as second:
        assert await second.code_deliveries.claim(60, flow_id=flow.id) is None, "leased: nobody else sends it"
    await service.db.pool.execute("UPDATE code_deliveries SET sending_until = now() - interval '1 second'")
    async with service.db.unit_of_work() as second:
        again = await second.code_deliveries.claim(60, flow_id=flow.id)
        await second.commit()
    assert again is not None and again.id == claimed.id and again.sending_until > claimed.sending_until
    async with service.db.unit_of_work() as late:
        assert await late.code_deliveries.settle(claimed.id, "failed", flow.updated_at, "late",
                                                 lease=claimed.sending_until) is None
        assert await late.code_deliveries.settle(again.id, "sent", flow.updated_at,
                                                 lease=again.sending_until) == "email"
        await late.commit()
    row = await service.db.pool.fetchrow("SELECT status, sending_until FROM code_deliveries")
    assert (row["status"], row["sending_until"]) == ("sent", None)


def transactions_appending_a_transition(statements: list[str]) -> list[list[str]]:
    """The statements between each BEGIN and its COMMIT, for the transactions that wrote a log row."""
    found, current = [], None
    for statement in statements:
        if statement == "BEGIN;":
            current = []
        elif statement == "COMMIT;" and current is not None:
            if any(s.startswith("INSERT INTO transitions") for s in current):
                found.append(current)
            current = None
        elif current is not None:
            current.append(statement)
    return found


def writes_or_locks(statement: str) -> bool:
    words = statement.upper()
    return words.startswith(("INSERT", "UPDATE", "DELETE")) or " FOR UPDATE" in words or " FOR NO KEY UPDATE" in words


async def test_recording_a_delivery_locks_its_flow_before_it_writes_anything(service_with: ServiceWith, smtp):
    """The log's global order is the order in which transactions took their ids (at their first
    write or row lock). Recording a delivery's outcome once wrote the delivery first and then
    waited for the flow's lock: an event committed meanwhile wrote the flow's row n, and the
    delivery's row n+1 sorted before it, so ``audit verify`` found the flow's rows out of order.
    Every transaction that appends a flow's row takes that flow's lock before anything else."""
    _mailbox, url = smtp
    service = await service_with(smtp_url=url)
    by_mail = await committed_but_not_sent(service, "email_code", email="order@example.com")
    await service.webhooks.create({"url": "http://127.0.0.1:9/hook", "events": ["verification_code.requested"]})
    by_webhook = await committed_but_not_sent(service, "sms_code", phone="+14155550123")
    webhook_delivery = await service.db.pool.fetchval(
        "SELECT id::text FROM code_deliveries WHERE flow_id = $1::uuid", by_webhook.id)
    await service.db.pool.execute("UPDATE code_deliveries SET created_at = created_at - interval '1 minute'")

    db = await Database.connect(service.settings.database_url, min_size=1, max_size=1)
    try:
        codes = bootstrap.build(service.settings, db).flows.codes
        sent: list[str] = []
        async with db.pool.acquire() as conn:  # the pool's one connection: every statement passes here
            conn.add_query_logger(lambda record: sent.append(" ".join(record.query.split())))
        assert (await codes.send_queued(by_mail.id))[0] == 1
        await codes.webhook_settled(by_webhook.id, webhook_delivery, "sent")
    finally:
        await db.close()

    appended = transactions_appending_a_transition(sent)
    assert len(appended) == 2, sent
    for statements in appended:
        first = next(s for s in statements if writes_or_locks(s))
        assert "pg_advisory_xact_lock" in first, "\n".join(statements)
        assert "FROM flows, queued WHERE id = $1::uuid FOR UPDATE OF flows" in first, "\n".join(statements)
