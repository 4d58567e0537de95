"""What a transition costs the database: one transaction of as many statements as its bare SQL,
and no reset query when its connection goes back to the pool (pooled connections keep no session
state)."""

from __future__ import annotations

import time

import pyotp

from mfa_flow import bootstrap
from mfa_flow.domain.access import ADMIN, Principal
from mfa_flow.store import Database


async def test_a_transition_is_one_transaction_and_its_connection_returns_without_a_reset(service):
    await service.configure(["totp", "backup_code"], "mandatory")
    user = await service.new_user()
    for factor in ("totp", "backup_code"):
        await service.management.add_factor(user["id"], {"type": factor})
    flow = await service.start({"id": user["id"]})
    assert flow.state == "factor_selection"

    db = await Database.connect(service.settings.database_url, min_size=1, max_size=1)
    try:
        flows = bootstrap.build(service.settings, db).flows
        # The connection's first use asks the server about types once; what follows is every event's cost.
        await flows.apply(flow.id, {"type": "select_factor", "factor": "totp"}, Principal(ADMIN))
        sent: list[str] = []
        async with db.pool.acquire() as conn:  # the pool's one connection: every statement passes here
            conn.add_query_logger(lambda record: sent.append(" ".join(record.query.split())))
        await flows.apply(flow.id, {"type": "switch_factor"}, Principal(ADMIN))
        async with db.pool.acquire():
            pass
    finally:
        await db.close()

    # BEGIN; the flow and its user locked; the log row; the flow (and its NOTIFY); the outbox rows
    # (and the workers' wake-up); COMMIT: as many round trips as the bare SQL of a transition.
    assert len(sent) == 6, sent
    assert sent[0] == "BEGIN;" and sent[-1] == "COMMIT;", sent
    assert "pg_advisory_xact_lock" in sent[1].split("FROM flows")[0], "queued on the flow's advisory lock first"
    assert "FROM flows, queued WHERE id = $1::uuid FOR UPDATE OF flows" in sent[1]
    assert "FROM users WHERE id = f.user_id FOR UPDATE" in sent[1]
    assert not [q for q in sent if "RESET" in q or "UNLISTEN" in q], f"the pool reset the connection: {sent}"


async def test_an_embedded_sign_in_costs_eighteen_statements_once_the_user_is_known(service):
    """The second sign-in of a known user: the flow created with its first factor asserted, then
    a TOTP code. The user is found (or added) and locked in one statement, and the success is
    one statement too: the sign-in history's row, with the user's last sign-in time (and the
    failure count reset, the last-used factor) in the same statement."""
    await service.configure(["totp"], "mandatory")
    user = await service.new_user()
    totp = pyotp.TOTP((await service.management.add_factor(user["id"], {"type": "totp"}))["secret"])
    now = time.time()

    db = await Database.connect(service.settings.database_url, min_size=1, max_size=1)
    try:
        flows = bootstrap.build(service.settings, db).flows

        async def sign_in(code: str) -> None:
            flow, _ = await flows.create({"id": user["id"]}, Principal(ADMIN))
            assert flow.state == "totp_verify"
            done = await flows.apply(flow.id, {"type": "submit_totp", "code": code}, Principal(ADMIN))
            assert done.state == "done"

        await sign_in(totp.at(now - 30))  # the first sets the user's last-used factor: a write
        sent: list[str] = []
        async with db.pool.acquire() as conn:  # the pool's one connection: every statement passes here
            conn.add_query_logger(lambda record: sent.append(" ".join(record.query.split())))
        await sign_in(totp.at(now))
    finally:
        await db.close()

    # Creation: BEGIN; the user (found or added, locked); the configuration; the user's factors;
    # the flow, inserted as its first step left it; its log row; the outbox rows; COMMIT. The code:
    # BEGIN; the flow and its user locked; the user's factors; the code's time-step taken; the
    # signing key; the flow; the log row; the outbox rows; COMMIT. And one more, new with adaptive
    # MFA's sign-in history: the success, a history row inserted and the user updated in one statement.
    assert sent.count("BEGIN;") == 2 and sent.count("COMMIT;") == 2, sent
    assert len(sent) == 18, "\n".join(sent)
    assert len([q for q in sent if q.startswith("WITH added AS (INSERT INTO sign_ins")]) == 1, sent
    assert len([q for q in sent if q.startswith("INSERT INTO users") or q.startswith("SELECT id, username")]) == 1, sent
    assert not [q for q in sent if q.startswith("UPDATE users")], sent
