"""The flow service, in process on a real database: what one event does to a flow, its log,
the user and the outbox, and what is refused without writing anything."""

from __future__ import annotations

import asyncio
import json

from mfa_flow.domain.flow import Flow
from mfa_flow.http.problems import Problem
from tests.integration.conftest import PASSWORD, InProcess, ServiceWith
from tests.support.otp import fresh_code, wrong_code


def edges(log: list[dict]) -> list[tuple[str, str, str, str]]:
    return [(row["event"], row["from_state"], row["to_state"], row["actor"]) for row in log]


async def totp_set_up_flow(service: InProcess) -> tuple[Flow, str]:
    """A flow of a new user at ``totp_setup`` (TOTP mandatory), and the secret it shows."""
    await service.configure(["totp"], "mandatory")
    user = await service.new_user()
    flow = await service.signed_in_with_password(user["username"])
    assert flow.state == "totp_setup"
    return flow, service.flows.view(flow, owner=True)["challenge"]["secret"]


async def test_a_sign_in_goes_from_password_through_set_up_to_done(service: InProcess):
    await service.configure(["totp"], "mandatory")
    user = await service.new_user("ada")
    flow = await service.start()
    assert (flow.state, flow.version, flow.user_id) == ("first_factor", 0, None)

    flow = await service.send(flow.id, "submit_password", username="ada", password=PASSWORD)
    assert (flow.state, flow.mode, flow.user_id, flow.version) == ("totp_setup", "setup", user["id"], 1)

    secret = service.flows.view(flow, owner=True)["challenge"]["secret"]
    flow = await service.send(flow.id, "submit_totp", code=await fresh_code(secret))
    assert flow.state == "done" and flow.result is not None and flow.result["amr"] == ["pwd", "otp", "mfa"]

    stored = await service.stored(flow.id)
    assert (stored.state, stored.version, stored.result) == ("done", 2, flow.result)
    log = await service.log(flow.id)
    assert edges(log) == [
        ("submit_password", "first_factor", "totp_setup", "user"),
        ("submit_totp", "totp_setup", "done", "user"),
    ]
    assert log[0]["prev_hash"] == "" and log[1]["prev_hash"] == log[0]["hash"], "the log is one hash chain"
    assert [f["type"] for f in await service.management.list_factors(user["id"])] == ["totp"]
    assert (await service.management.get_user(user["id"]))["mfa"]["prompted"] is True


async def test_a_wrong_proof_counts_an_attempt_and_commits_its_log_row(service: InProcess):
    flow, secret = await totp_set_up_flow(service)
    code = wrong_code(secret)

    problem = await service.refused(flow.id, "submit_totp", code=code)
    assert (problem.status, problem.slug) == (422, "wrong-proof")
    assert problem.extra == {"attempts_left": 4, "state": "totp_setup"}

    stored = await service.stored(flow.id)  # another transaction: what the refusal committed
    assert (stored.state, stored.version, stored.attempts_left) == ("totp_setup", 2, 4)
    last = (await service.log(flow.id))[-1]
    assert edges([last]) == [("submit_totp", "totp_setup", "totp_setup", "user")]
    assert last["data"]["guard"] == "proof_wrong"
    assert code not in json.dumps(last["data"]), "the code sent is never logged"
    assert service.flows.view(stored, owner=True)["challenge"]["secret"] == secret, "the set-up goes on as it was"


async def test_the_last_wrong_proof_fails_the_flow_in_the_same_commit(service_with: ServiceWith):
    service = await service_with(max_attempts=2)
    flow, secret = await totp_set_up_flow(service)
    await service.refused(flow.id, "submit_totp", code=wrong_code(secret))
    problem = await service.refused(flow.id, "submit_totp", code=wrong_code(secret))
    assert problem.extra == {"attempts_left": 0, "state": "failed"}
    assert "no attempts left" in problem.detail
    assert edges((await service.log(flow.id))[-2:]) == [
        ("submit_totp", "totp_setup", "totp_setup", "user"),
        ("lock", "totp_setup", "failed", "user"),
    ]
    assert (await service.stored(flow.id)).state == "failed"


async def test_an_event_for_another_version_is_refused_and_writes_nothing(service: InProcess):
    flow = await service.start()

    problem = await service.refused(flow.id, "cancel", expected_version=flow.version + 1)
    assert (problem.status, problem.slug, problem.extra["version"]) == (409, "version-mismatch", 0)
    assert (await service.stored(flow.id)).version == 0 and await service.log(flow.id) == []

    cancelled = await service.send(flow.id, "cancel", expected_version=0)
    assert (cancelled.state, cancelled.version) == ("cancelled", 1)


async def test_an_overdue_flow_reads_expired_and_the_expiry_is_logged_once(service: InProcess):
    flow = await service.start()
    await service.make_overdue(flow.id)

    read = await service.flows.get(flow.id)
    assert (read.state, read.version) == ("expired", 1)
    problem = await service.refused(flow.id, "cancel")
    assert (problem.status, problem.slug) == (410, "flow-expired")
    assert edges(await service.log(flow.id)) == [("expire", "first_factor", "expired", "system")]


async def test_an_event_that_finds_its_flow_overdue_expires_it_and_is_refused(service: InProcess):
    flow = await service.start()
    await service.make_overdue(flow.id)

    problem = await service.refused(flow.id, "cancel")
    assert (problem.status, problem.slug) == (410, "flow-expired")
    assert edges(await service.log(flow.id)) == [("expire", "first_factor", "expired", "system")], (
        "the expiry is committed although the event is refused"
    )


async def test_a_user_reaching_the_failure_threshold_is_locked_out(service_with: ServiceWith):
    service = await service_with(lockout_threshold=2, lockout_seconds=60)
    user = await service.new_user()

    first = await service.start()
    problem = await service.refused(first.id, "submit_password", username=user["username"], password="wrong")
    assert problem.status == 422 and problem.extra["state"] == "first_factor"

    second = await service.start()
    problem = await service.refused(second.id, "submit_password", username=user["username"], password="wrong")
    assert problem.status == 422 and problem.extra["state"] == "failed"
    assert "the user is locked for 60 seconds" in problem.detail
    lock = (await service.log(second.id))[-1]
    assert (lock["event"], lock["to_state"], lock["data"]["reason"]) == ("lock", "failed", "user_locked")

    third = await service.start()
    problem = await service.refused(third.id, "submit_password", username=user["username"], password=PASSWORD)
    assert (problem.status, problem.slug) == (429, "user-locked"), "locked: even the right password is refused"
    assert 0 < problem.extra["retry_after"] <= 60
    assert await service.log(third.id) == [] and (await service.stored(third.id)).version == 0


async def test_one_code_sent_to_two_flows_at_once_is_spent_by_one(service: InProcess):
    await service.configure(["totp"], "mandatory")
    user = await service.new_user()
    secret = (await service.management.add_factor(user["id"], {"type": "totp"}))["secret"]
    first = await service.signed_in_with_password(user["username"])
    second = await service.signed_in_with_password(user["username"])
    assert first.state == second.state == "totp_verify"

    code = await fresh_code(secret)
    outcomes = await asyncio.gather(
        service.send(first.id, "submit_totp", code=code), service.send(second.id, "submit_totp", code=code),
        return_exceptions=True,
    )
    done = [o for o in outcomes if isinstance(o, Flow)]
    refused = [o for o in outcomes if isinstance(o, Problem)]
    assert len(done) == 1 and done[0].state == "done", outcomes
    assert len(refused) == 1 and refused[0].status == 422 and "already used" in refused[0].detail, outcomes
    loser = second if done[0].id == first.id else first
    assert (await service.log(loser.id))[-1]["data"]["replay"] is True


async def test_one_event_sent_twice_at_once_to_one_flow_is_applied_once(service: InProcess):
    flow, secret = await totp_set_up_flow(service)
    code = await fresh_code(secret)
    outcomes = await asyncio.gather(
        service.send(flow.id, "submit_totp", code=code), service.send(flow.id, "submit_totp", code=code),
        return_exceptions=True,
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["Flow", "Problem"], outcomes
    problem = next(o for o in outcomes if isinstance(o, Problem))
    assert (problem.status, problem.slug) == (409, "flow-finished")
    assert [row["to_state"] for row in await service.log(flow.id)] == ["totp_setup", "done"]


async def test_webhook_messages_are_written_in_the_transaction_of_their_transition(service: InProcess):
    endpoint = await service.webhooks.create({"url": "http://127.0.0.1:9/hook", "events": ["*"]})
    flow = await service.start()
    await service.refused(flow.id, "cancel", expected_version=5)
    await service.send(flow.id, "cancel")

    messages = await service.db.pool.fetch(
        "SELECT type, xmin::text AS tx, (SELECT count(*) FROM webhook_deliveries d"
        "  WHERE d.message_seq = m.seq AND d.endpoint_id = $2::uuid) AS deliveries"
        " FROM webhook_messages m WHERE ordering_key = $1 ORDER BY seq",
        f"flow:{flow.id}", endpoint["id"],
    )
    assert [(m["type"], m["deliveries"]) for m in messages] == [
        ("flow.created", 1), ("flow.transitioned", 1), ("flow.cancelled", 1)
    ], "the messages of each committed change, none for the refused event, each with its delivery"
    transition_tx = await service.db.pool.fetchval(
        "SELECT xmin::text FROM transitions WHERE flow_id = $1::uuid AND event = 'cancel'", flow.id
    )
    flow_tx = await service.db.pool.fetchval("SELECT xmin::text FROM flows WHERE id = $1::uuid", flow.id)
    assert messages[1]["tx"] == messages[2]["tx"] == transition_tx == flow_tx, (
        "the flow, its log row and their messages: one transaction"
    )
    assert messages[0]["tx"] != transition_tx


async def test_the_sweep_expires_every_overdue_flow_once_in_batches(service: InProcess):
    overdue = [await service.start() for _ in range(5)]
    active = await service.start()
    await service.make_overdue(*(flow.id for flow in overdue))

    # The sweep and a reader race for one of the flows: it still expires exactly once.
    swept, read = await asyncio.gather(service.flows.expire_overdue(batch=2), service.flows.get(overdue[0].id))
    assert read.state == "expired"
    assert swept in (4, 5), "the reader may have expired its flow first"
    for flow in overdue:
        assert edges(await service.log(flow.id)) == [("expire", "first_factor", "expired", "system")]
    assert (await service.stored(active.id)).state == "first_factor" and await service.log(active.id) == []
    assert await service.flows.expire_overdue() == 0
