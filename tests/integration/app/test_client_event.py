"""The use case of one client event (``FlowService.handle``, ``Pipeline.apply``), specified on
a real database without HTTP: the command a client event becomes, the two kinds of handler (a
flow before its first factor has no user; every later step has its user), where the password
work happens, and that the composition root builds every part once."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mfa_flow import passwords
from mfa_flow.app.commands import ClientEvent, PasswordCheck, PasswordHashed
from mfa_flow.crypto import token_digest
from mfa_flow.domain import machine
from mfa_flow.domain.access import FLOW_TOKEN, Principal
from mfa_flow.domain.errors import Conflict, WrongProof
from mfa_flow.factors.registry import default
from tests.integration.conftest import PASSWORD, InProcess, ServiceWith


def as_client(service: InProcess, flow_id: str, type_: str, **payload: object) -> ClientEvent:
    """The command for an event the flow's own client sends (its flow token)."""
    who = Principal(FLOW_TOKEN, token_digest(service.tokens[flow_id]))
    return ClientEvent(flow_id, type_, {"type": type_, **payload}, who)


async def stored_hash(service: InProcess, username: str) -> str | None:
    async with service.db.unit_of_work(readonly=True) as uow:
        user = await uow.users.by_username(username)
    assert user is not None
    return user.password_hash


# --- the handler table: two kinds, by whether the flow has its user ---------------------------


def test_the_events_of_first_factor_are_exactly_the_first_factor_handlers(service: InProcess):
    table = service.flows.pipeline.handlers
    table_rows = default().machine.table
    before_user = {r.event for r in table_rows if machine.FIRST_FACTOR in r.sources} & set(default().machine.client_events)
    assert set(table.first_factor) == before_user, "first_factor's events get the flow without a user"
    assert set(table.first_factor) & set(table.with_user) == {"cancel"}, "only cancel serves both kinds"
    assert set(table.first_factor) | set(table.with_user) == set(default().machine.client_events)


async def test_an_event_that_needs_the_user_is_refused_before_the_first_factor(service: InProcess):
    await service.configure(["totp"], "mandatory")
    flow = await service.start()
    problem = await service.refused(flow.id, "select_factor", factor="totp")
    assert (problem.status, problem.slug) == (409, "event-not-allowed")
    assert (await service.stored(flow.id)).version == 0, "nothing written"


async def test_cancel_ends_a_flow_with_or_without_its_user(service: InProcess):
    await service.configure(["totp"], "mandatory")
    user = await service.new_user()
    anonymous = await service.start()
    named = await service.signed_in_with_password(user["username"])
    assert named.user_id == user["id"] and anonymous.user_id is None
    for flow in (anonymous, named):
        assert (await service.send(flow.id, "cancel")).state == machine.CANCELLED


async def test_a_flow_whose_user_was_deleted_is_cancelled_by_its_next_event(service: InProcess):
    await service.configure(["totp"], "mandatory")
    user = await service.new_user()
    flow = await service.signed_in_with_password(user["username"])
    await service.management.delete_user(user["id"])
    problem = await service.refused(flow.id, "submit_totp", code="123456")
    assert (problem.status, problem.slug) == (409, "flow-finished") and "was deleted" in problem.detail
    last = (await service.log(flow.id))[-1]
    assert (last["event"], last["to_state"], last["actor"], last["data"]["reason"]) == (
        "cancel", "cancelled", "system", "user_deleted")


# --- the password work: before the transaction, carried in the command -------------------------


async def test_a_password_checked_before_the_transaction_against_the_stored_hash_is_taken_as_checked(
        service: InProcess):
    await service.configure(["totp"], "mandatory")
    user = await service.new_user()
    flow = await service.start()
    checked = PasswordCheck(await stored_hash(service, user["username"]), passwords.Checked(True))
    cmd = replace(as_client(service, flow.id, "submit_password", username=user["username"], password="not it"),
                  password=checked)
    moved = await service.flows.pipeline.apply(cmd)
    assert (moved.state, moved.user_id) == ("totp_setup", user["id"]), "no second argon2 run under the lock"


async def test_a_check_made_against_another_hash_is_made_again_under_the_lock(service: InProcess):
    await service.configure(["totp"], "mandatory")
    user = await service.new_user()
    flow = await service.start()
    stale = PasswordCheck("a hash the user no longer has", passwords.Checked(True))
    cmd = replace(as_client(service, flow.id, "submit_password", username=user["username"], password="not it"),
                  password=stale)
    with pytest.raises(WrongProof):
        await service.flows.pipeline.apply(cmd)
    assert (await service.stored(flow.id)).user_id is None


async def test_without_a_check_the_handler_checks_the_password_itself(service: InProcess):
    await service.configure(["totp"], "mandatory")
    user = await service.new_user()
    flow = await service.start()
    moved = await service.flows.pipeline.apply(
        as_client(service, flow.id, "submit_password", username=user["username"], password=PASSWORD))
    assert moved.user_id == user["id"]


async def test_a_sign_up_stores_the_hash_made_before_the_transaction(service_with: ServiceWith):
    service = await service_with(sign_up=True)
    await service.configure(["totp"], "user_controlled")
    flow = await service.start()
    made = passwords.hasher(service.settings.password_hash).hash("a new password")
    cmd = replace(as_client(service, flow.id, "submit_registration", username="newcomer", password="ignored"),
                  password=PasswordHashed(made))
    moved = await service.flows.pipeline.apply(cmd)
    assert moved.user_id is not None and moved.context.username == "newcomer"
    assert await stored_hash(service, "newcomer") == made


async def test_handle_runs_the_password_work_before_applying(service: InProcess):
    await service.configure(["totp"], "mandatory")
    user = await service.new_user()
    flow = await service.start()
    moved = await service.flows.handle(
        as_client(service, flow.id, "submit_password", username=user["username"], password=PASSWORD))
    assert moved.state == "totp_setup"


# --- a wrong first factor counts against the user it named ------------------------------------


async def test_a_wrong_password_counts_against_the_user_it_names_and_their_lockout_ends_the_flow(
        service_with: ServiceWith):
    service = await service_with(lockout_threshold=2, lockout_seconds=60)
    await service.configure(["totp"], "mandatory")
    user = await service.new_user()
    first, second = await service.start(), await service.start()
    await service.refused(first.id, "submit_password", username=user["username"], password="wrong")
    problem = await service.refused(second.id, "submit_password", username=user["username"], password="wrong")
    assert problem.extra["state"] == machine.FAILED and "locked" in problem.detail
    stored = await service.stored(second.id)
    assert stored.user_id is None, "a wrong first factor signs nobody in"
    assert (await service.management.get_user(user["id"]))["mfa"]["locked_until"] is not None


async def test_a_wrong_password_of_nobody_counts_only_against_the_flow(service: InProcess):
    flow = await service.start()
    problem = await service.refused(flow.id, "submit_password", username="nobody-at-all", password="wrong")
    assert problem.extra == {"attempts_left": service.settings.max_attempts - 1, "state": machine.FIRST_FACTOR}


# --- the composition root builds every part once ----------------------------------------------


async def test_every_part_of_the_flow_service_is_built_once_by_bootstrap(service: InProcess):
    flows = service.flows
    assert flows.codes.pipeline is flows.pipeline, "code deliveries settle through the same pipeline"
    assert service.management.hashing is flows.hashing, "one bounded hashing pool for sign-ins and the admin"
    table = flows.pipeline.handlers
    assert table.first_factor["submit_password"].outcomes is flows.outcomes  # type: ignore[attr-defined]
    assert table.with_user["skip"].outcomes is flows.outcomes  # type: ignore[attr-defined]


async def test_a_handler_refusal_writes_nothing(service: InProcess):
    await service.configure(["totp"], "mandatory")
    user = await service.new_user()
    flow = await service.signed_in_with_password(user["username"])
    with pytest.raises(Conflict):
        await service.flows.pipeline.apply(replace(as_client(service, flow.id, "submit_totp", code="1"),
                                                   expected_version=0))
    assert (await service.stored(flow.id)).version == flow.version
