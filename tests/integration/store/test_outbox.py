"""The outbox: the messages of a change and their deliveries, written in its transaction, in the
order they were recorded, with one statement whatever their number (a few go as rows of values,
many as arrays)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from mfa_flow.webhooks.messages import SECRET_TYPES, Message

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


async def _endpoint(db, events: list[str]) -> str:
    endpoint_id = str(uuid.uuid4())
    async with db.unit_of_work() as uow:
        await uow.connection.execute(
            "INSERT INTO webhook_endpoints (id, url, events, secret_sealed, created_at, updated_at)"
            " VALUES ($1, 'http://127.0.0.1:9/outbox-test', $2, 'not-a-secret', now(), now())", endpoint_id, events)
        await uow.commit()
    return endpoint_id


def _messages(count: int, key: str) -> list[Message]:
    types = ["flow.transitioned", "flow.completed", SECRET_TYPES[0]]
    return [Message(f"msg_{uuid.uuid4().hex}", types[n % 3], key, {"n": n}, NOW + timedelta(microseconds=n))
            for n in range(count)]


@pytest.mark.parametrize("count", [1, 3, 8, 9, 20])
async def test_a_change_s_messages_are_written_in_order_with_a_delivery_each_for_the_endpoint(service, count):
    endpoint = await _endpoint(service.db, ["*"])
    key = f"flow:{uuid.uuid4()}"
    messages = _messages(count, key)
    async with service.db.unit_of_work() as uow:
        sent: list[str] = []

        def log(record) -> None:
            sent.append(record.query)

        uow.connection.add_query_logger(log)
        due = await uow.outbox.add(messages)
        uow.connection.remove_query_logger(log)
        await uow.commit()
    # "*" never brings a secret type (the verification codes): every third message here.
    public = [m for m in messages if m.type not in SECRET_TYPES]
    assert due == len(public)
    assert len([q for q in sent if "INSERT INTO webhook_messages" in q]) == 1, sent
    async with service.db.unit_of_work() as uow:
        rows = await uow.connection.fetch(
            "SELECT m.id, m.data, d.endpoint_id::text AS endpoint FROM webhook_messages m"
            " LEFT JOIN webhook_deliveries d ON d.message_seq = m.seq WHERE m.ordering_key = $1 ORDER BY m.seq", key)
    assert [r["id"] for r in rows] == [m.id for m in public]
    assert [r["data"] for r in rows] == [m.data for m in public]
    assert {r["endpoint"] for r in rows} == {endpoint}


async def test_messages_no_endpoint_subscribes_to_are_not_kept(service):
    key = f"flow:{uuid.uuid4()}"
    async with service.db.unit_of_work() as uow:
        assert await uow.outbox.add([m for m in _messages(4, key) if m.type == "flow.completed"]) == 0
        await uow.commit()
    async with service.db.unit_of_work() as uow:
        assert await uow.connection.fetchval("SELECT count(*) FROM webhook_messages WHERE ordering_key = $1", key) == 0
