"""The transition log's global order, (xid, id), under contention on one flow.

"Lock the flow's row first" assumes a transaction takes its xid only when it gets that lock.
Under READ COMMITTED a SELECT ... FOR UPDATE queued behind two or more others can take it
earlier (it follows the row's update chain after a wait, which assigns the xid, and waits
again), so each lock of a flow's row queues on the flow's advisory lock first
(``store/flows.py``). Without it this test failed four runs in four."""

from __future__ import annotations

import asyncio

from tests.integration.conftest import ServiceWith


async def test_twenty_events_at_once_on_one_flow_keep_its_rows_in_the_global_order(service_with: ServiceWith):
    service = await service_with(max_attempts=100, lockout_threshold=100)
    await service.configure(["totp", "backup_code"], "mandatory")
    user = await service.new_user()
    await service.management.add_factor(user["id"], {"type": "totp"})
    await service.management.add_factor(user["id"], {"type": "backup_code"})
    flow = await service.start({"id": user["id"]})
    await service.send(flow.id, "select_factor", factor="backup_code")
    await asyncio.gather(*(service.send(flow.id, "submit_backup_code", code=f"wrong-{i:05d}") for i in range(20)),
                         return_exceptions=True)
    rows = await service.db.pool.fetch("SELECT seq FROM transitions WHERE flow_id = $1::uuid ORDER BY xid, id",
                                       flow.id)
    assert [r["seq"] for r in rows] == list(range(1, 23)), "asserted, selected, then the twenty in the global order"
