"""What a transition costs the database: one transaction of as many statements as its bare SQL,
and no reset query when its connection goes back to the pool (pooled connections keep no session
state)."""

from __future__ import annotations

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
    assert "FROM flows WHERE id = $1::uuid FOR UPDATE" in sent[1] and "FROM users WHERE id = f.user_id FOR UPDATE" in sent[1]
    assert not [q for q in sent if "RESET" in q or "UNLISTEN" in q], f"the pool reset the connection: {sent}"
