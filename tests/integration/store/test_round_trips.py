"""What a transition costs the database: one transaction, each statement sent once, and no reset
query when its connection goes back to the pool (pooled connections keep no session state)."""

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
        sent: list[str] = []
        async with db.pool.acquire() as conn:  # the pool's one connection: every statement passes here
            conn.add_query_logger(lambda record: sent.append(" ".join(record.query.split())))
        await flows.apply(flow.id, {"type": "select_factor", "factor": "totp"}, Principal(ADMIN))
        async with db.pool.acquire():
            pass
    finally:
        await db.close()

    assert sent[0] == "BEGIN;" and sent[-1] == "COMMIT;", sent
    assert sent[1].startswith("SELECT") and "FROM flows WHERE id = $1::uuid FOR UPDATE" in sent[1]
    assert len(set(sent)) == len(sent), f"a statement was sent twice: {sent}"
    assert not [q for q in sent if "RESET" in q or "UNLISTEN" in q], f"the pool reset the connection: {sent}"
