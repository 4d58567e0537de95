"""Email and SMS codes end to end: a real server and worker, a real SMTP server in this process
(aiosmtpd) whose mailbox the tests read, and a real webhook receiver whose signatures the
``standardwebhooks`` package checks. On a database of this module's own, so that its webhook
worker and its sweeps share nothing with other modules."""

from __future__ import annotations

import asyncio
import re
import subprocess
import uuid
from datetime import datetime

import asyncpg
import pytest
from standardwebhooks import Webhook

from tests.support.cli import mfa_flow
from tests.support.client import Api, FlowClient
from tests.support.names import unique
from tests.support.receiver import Receiver
from tests.support.server import ServerProcess, server_and_worker
from tests.support.smtp import Mailbox, SmtpServer, code_of
from tests.support.waiting import eventually

CODE_TTL = 15  # seconds: short enough for a test to see a code expire, long enough for a webhook round trip on a busy machine
CODE_RESEND = 2  # seconds between sends of one flow
SEEN: list[str] = []  # every code the tests received: none may show up where it should not



# --- a real SMTP server -------------------------------------------------------------------------


async def next_code(mailbox: Mailbox, address: str, after: int) -> str:
    """The mailbox's next code to ``address``, noted as seen."""
    code = await mailbox.next_code(address, after)
    SEEN.append(code)
    return code


@pytest.fixture(scope="module")
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


# --- the service ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def codes_db(test_database):
    async with test_database.own("codes") as url:
        yield url


CODE_SETTINGS = {"MFA_FLOW_CODE_TTL": str(CODE_TTL), "MFA_FLOW_CODE_RESEND": str(CODE_RESEND),
                 "MFA_FLOW_WEBHOOK_ALLOW_PRIVATE": "1", "MFA_FLOW_ISSUER": "Acme Sign-In",
                 "MFA_FLOW_SMTP_FROM": "sign-in@acme.example"}


@pytest.fixture(scope="module")
async def processes(codes_db, smtp):
    async with server_and_worker(
        codes_db, {**CODE_SETTINGS, "MFA_FLOW_SMTP_URL": smtp.url},
        worker={"MFA_FLOW_WEBHOOK_RETRY_SCHEDULE": "0,0.3,0.3", "MFA_FLOW_SWEEP_INTERVAL": "0.2"},
    ) as (server, worker):
        yield server, worker


@pytest.fixture
async def codes(processes, http) -> Api:
    return Api(processes[0].base_url, http)


async def user_with(api: Api, factor: str, **destination: str) -> dict:
    """A user whose email or phone the admin added as a factor (no code needed)."""
    user = await api.new_user(unique(factor))
    reply = await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications", {"type": factor, **destination})
    assert reply.status == 201, reply
    return {**user, "verification": reply.body}


async def signed_in_to_verify(api: Api, user: dict) -> FlowClient:
    flow = await api.start()
    await flow.password(user["username"])
    return flow


async def setting_up(api: Api, factor: str, name: str) -> tuple[dict, FlowClient]:
    """``factor`` required; a new user signed in to its set-up."""
    await api.configure([factor], "mandatory")
    user = await api.new_user(unique(name))
    flow = await api.start()
    await flow.password(user["username"])
    return user, flow


async def verifying_by_email(api: Api) -> tuple[str, dict, FlowClient]:
    """Email codes required; a user with an address of their own, signed in to its verification
    (which sent the first code)."""
    await api.configure(["email_code"], "mandatory")
    address = f"{uuid.uuid4().hex[:10]}@example.com"
    user = await user_with(api, "email_code", email=address)
    return address, user, await signed_in_to_verify(api, user)


# --- set-up and sign-in by email ------------------------------------------------------------------


async def test_an_email_code_sets_the_factor_up_and_then_signs_the_user_in(codes, smtp):
    user, flow = await setting_up(codes, "email_code", "mail")
    assert flow.state == "email_code_setup"
    challenge = flow.flow["challenge"]
    assert (challenge["field"], challenge["to"], challenge["delivery"]) == ("email", None, None)
    assert flow.flow["allowed_events"][:2] == ["submit_email_code", "send_code"]

    address = f"{uuid.uuid4().hex[:10]}@Example.COM"
    body = await flow.ok("send_code", email=f"  {address} ")
    normal = address.split("@")[0] + "@example.com"  # the domain is lower-cased, the spaces gone
    assert body["challenge"]["to"] == f"{address[0]}***@example.com"
    assert body["challenge"]["delivery"] == "sent"
    assert body["challenge"]["sends_left"] == 4
    (message,) = await eventually(lambda: smtp.mailbox.to(normal))
    code = code_of(message)
    SEEN.append(code)
    assert message["From"] == "sign-in@acme.example" and message["Subject"] == "Your Acme Sign-In verification code"
    html = message.get_body(("html",)).get_content()
    plain = message.get_body(("plain",)).get_content()
    for part in (plain, html):
        assert code in part and "Acme Sign-In" in part
    assert "expires in 1 minute" in plain  # the lifetime (MFA_FLOW_CODE_TTL, 15 s, rounds up to a minute)

    done = await flow.ok("submit_email_code", code=code)
    assert done["state"] == "done" and "otp" in done["result"]["amr"]
    factors = (await codes.admin("GET", f"/api/users/{user['id']}/mfa-verifications")).body
    assert [(f["type"], f["email"]) for f in factors] == [("email_code", normal)]

    # The next sign-in sends a code to that address as soon as verification begins.
    again = await signed_in_to_verify(codes, user)
    assert again.state == "email_code_verify"
    assert again.flow["challenge"]["delivery"] == "sent"
    code = await next_code(smtp.mailbox, normal, after=1)
    done = await again.ok("submit_email_code", code=f"{code[:3]} {code[3:]}")  # spaces are forgiven
    assert done["state"] == "done" and done["result"]["amr"] == ["pwd", "otp", "mfa"]
    rows = await codes.transitions(again.id)
    assert [(r["event"], r["data"]["guard"], r["actor"]) for r in rows[1:]] == [
        ("code_delivery", "code_delivered", "system"), ("submit_email_code", "proof_ok", "user")]
    metrics = (await codes.auditor("GET", "/metrics")).body
    assert re.search(r'mfa_flow_code_deliveries_total\{channel="email",outcome="sent",via="smtp"\} [1-9]', metrics)


async def test_a_wrong_address_or_a_missing_one_is_a_clear_400(codes):
    user, flow = await setting_up(codes, "email_code", "bad")
    for payload, field in (({"email": "not an address"}, "email"), ({}, "email"), ({"phone": "+14155550123"}, "phone")):
        reply = await flow.send("send_code", **payload)
        assert reply.status == 400, reply
        assert reply.problem["detail"].startswith(f"{field}:"), reply.problem
    reply = await flow.send("submit_email_code", code="123456")
    assert reply.status == 409 and reply.problem["type"].endswith("no-code-sent"), reply


# --- the SMTP server goes away --------------------------------------------------------------------


async def test_a_send_that_fails_leaves_the_flow_where_it_was_and_a_resend_works_once_smtp_is_back(codes, smtp):
    await codes.configure(["email_code"], "mandatory")
    address = f"{uuid.uuid4().hex[:10]}@example.com"
    user = await user_with(codes, "email_code", email=address)
    smtp.stop()
    try:
        flow = await signed_in_to_verify(codes, user)
        assert flow.state == "email_code_verify"
        read = await eventually(lambda: _delivery_is(flow, "failed"))
        challenge = read["challenge"]
        assert challenge["to"] == f"{address[0]}***@example.com"
        assert datetime.fromisoformat(challenge["resend_at"]) <= datetime.fromisoformat(read["updated_at"])
        assert read["attempts_left"] == 5 and "send_code" in read["allowed_events"]
    finally:
        smtp.start()
    body = await flow.ok("send_code")  # at once: the failed send started no resend gap
    assert body["challenge"]["delivery"] == "sent"
    code = await next_code(smtp.mailbox, address, after=0)
    assert (await flow.ok("submit_email_code", code=code))["state"] == "done"


async def _delivery_is(flow: FlowClient, status: str) -> dict | None:
    body = await flow.read()
    return body if body["challenge"]["delivery"] == status else None


# --- resends: the gap, the cap ------------------------------------------------------------------


async def test_a_resend_too_early_is_429_with_retry_after_and_the_sixth_code_is_refused(codes, smtp):
    address, user, flow = await verifying_by_email(codes)
    too_early = await flow.send("send_code")
    assert too_early.status == 429, too_early
    assert too_early.problem["limit"] == "code_resend"
    assert 1 <= int(too_early.headers["Retry-After"]) <= CODE_RESEND
    assert too_early.problem["retry_after"] == int(too_early.headers["Retry-After"])
    version = (await flow.read())["version"]
    assert version == flow.flow["version"], "a refused resend writes nothing"

    for sends_left in (3, 2, 1, 0):
        await asyncio.sleep(CODE_RESEND + 0.1)
        body = await flow.ok("send_code")
        assert body["challenge"]["sends_left"] == sends_left
    assert body["challenge"]["resend_at"] is None
    await asyncio.sleep(CODE_RESEND + 0.1)
    past_cap = await flow.send("send_code")
    assert past_cap.status == 429 and past_cap.problem["limit"] == "codes_per_flow", past_cap
    assert int(past_cap.headers["Retry-After"]) >= 1
    for _ in range(5):
        await next_code(smtp.mailbox, address, after=_)
    assert len(smtp.mailbox.to(address)) == 5


# --- a code works once, before it expires, and only the latest ------------------------------------


async def test_a_newer_code_voids_the_previous_one(codes, smtp):
    address, user, flow = await verifying_by_email(codes)
    first = await next_code(smtp.mailbox, address, after=0)
    await asyncio.sleep(CODE_RESEND + 0.1)
    await flow.ok("send_code")
    second = await next_code(smtp.mailbox, address, after=1)
    if first != second:  # one chance in a million that they are the same
        voided = await flow.send("submit_email_code", code=first)
        assert voided.status == 422 and voided.problem["attempts_left"] == 4, voided
        assert "latest" in voided.problem["detail"] and first not in voided.problem["detail"]
    assert (await flow.ok("submit_email_code", code=second))["state"] == "done"

    # Spent: the code of a finished sign-in opens no other.
    other = await signed_in_to_verify(codes, user)
    third = await next_code(smtp.mailbox, address, after=2)
    if third != second:
        reused = await other.send("submit_email_code", code=second)
        assert reused.status == 422, reused
    assert (await other.ok("submit_email_code", code=third))["state"] == "done"


async def test_an_expired_code_is_refused_and_counted(codes, smtp):
    address, user, flow = await verifying_by_email(codes)
    code = await next_code(smtp.mailbox, address, after=0)
    await asyncio.sleep(CODE_TTL + 0.2)
    expired = await flow.send("submit_email_code", code=code)
    assert expired.status == 422, expired
    assert "expired" in expired.problem["detail"] and expired.problem["attempts_left"] == 4
    body = await flow.read()
    assert body["challenge"]["expires_at"] is not None and body["state"] == "email_code_verify"


async def test_wrong_codes_count_like_totp_and_the_last_one_fails_the_flow(codes, smtp):
    address, user, flow = await verifying_by_email(codes)
    code = await next_code(smtp.mailbox, address, after=0)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for left in (4, 3, 2, 1):
        reply = await flow.send("submit_email_code", code=wrong)
        assert reply.status == 422 and reply.problem["attempts_left"] == left
    last = await flow.send("submit_email_code", code=wrong)
    assert last.status == 422 and last.problem["state"] == "failed"
    assert (await flow.send("submit_email_code", code=code)).status == 409


# --- SMS by webhook -------------------------------------------------------------------------------


@pytest.fixture
async def receivers(codes):
    """One endpoint for every event (``*``) and one for ``verification_code.requested`` by name."""
    everything, by_name = await Receiver().start(), await Receiver().start()
    made = []
    for receiver, events in ((everything, ["*"]), (by_name, ["verification_code.requested"])):
        reply = await codes.admin("POST", "/api/webhooks", {"url": receiver.url, "events": events})
        assert reply.status == 201, reply
        made.append(reply.body)
    yield (everything, made[0]), (by_name, made[1])
    for endpoint in made:
        await codes.admin("DELETE", f"/api/webhooks/{endpoint['id']}")
    await everything.stop()
    await by_name.stop()


async def test_sms_codes_go_by_signed_webhook_to_endpoints_that_name_the_event_and_the_copy_is_erased(
        codes, receivers, codes_db):
    (everything, _), (by_name, endpoint) = receivers
    await codes.configure(["sms_code"], "mandatory")
    user = await user_with(codes, "sms_code", phone="+1 (415) 555-0123")
    assert user["verification"]["phone"] == "+14155550123"
    flow = await signed_in_to_verify(codes, user)
    assert flow.state == "sms_code_verify"
    assert flow.flow["challenge"]["to"] == "+1 *** *** **23"
    assert flow.flow["challenge"]["delivery"] == "queued"

    (received,) = await eventually(lambda: by_name.received)
    data = Webhook(endpoint["secret"]).verify(received.body, received.headers)["data"]
    assert set(data) == {"flow_id", "user_id", "channel", "to", "code", "expires_at", "locale", "text"}
    assert data["locale"] == "en" and data["text"] == f"{data['code']} is your Acme Sign-In verification code." \
        " It expires in 1 minute."
    assert (data["flow_id"], data["user_id"], data["channel"], data["to"]) == (flow.id, user["id"], "sms",
                                                                              "+14155550123")
    SEEN.append(data["code"])
    assert re.fullmatch(r"[0-9]{6}", data["code"])
    # The flow learns that the app took it; the stored copy of the code is gone.
    await eventually(lambda: _delivery_is(flow, "sent"))
    assert await _stored_codes(codes_db, flow.id) == ["{}"]

    done = await flow.ok("submit_sms_code", code=data["code"])
    assert done["result"]["amr"] == ["pwd", "sms", "mfa"]
    await eventually(lambda: any(r.message["type"] == "flow.completed" for r in everything.received))
    assert not [r for r in everything.received if r.message["type"] == "verification_code.requested"], \
        "a code went to an endpoint subscribed to * only"


async def test_a_code_the_app_never_took_shows_failed_and_its_copy_is_erased(codes, receivers, codes_db):
    (_, _), (by_name, _) = receivers
    by_name.answers = [(503, {})] * 3  # every try of the worker's schedule (three) fails
    await codes.configure(["sms_code"], "mandatory")
    user = await user_with(codes, "sms_code", phone="+14155550124")
    flow = await signed_in_to_verify(codes, user)
    await eventually(lambda: _delivery_is(flow, "failed"))
    assert len(by_name.received) == 3
    SEEN.append(by_name.received[0].message["data"]["code"])
    assert await _stored_codes(codes_db, flow.id) == ["{}"]
    body = await flow.ok("send_code")  # the failed delivery started no gap
    assert body["challenge"]["delivery"] == "queued"


async def _stored_codes(url: str, flow_id: str) -> list[str]:
    """What the outbox keeps of a flow's verification_code.requested messages: their sealed part."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT coalesce(data->'sealed', '{}')::text AS sealed FROM webhook_messages"
                                " WHERE type = 'verification_code.requested' AND data->>'flow_id' = $1 ORDER BY seq",
                                flow_id)
    finally:
        await conn.close()
    return [r["sealed"] for r in rows]


async def test_sms_set_up_fails_visibly_when_no_endpoint_takes_codes(codes):
    user, flow = await setting_up(codes, "sms_code", "nohook")
    bad = await flow.send("send_code", phone="0415 555 0123")
    assert bad.status == 400 and "country code" in bad.problem["detail"]
    assert "0415 555 0123" not in bad.problem["detail"], "the value sent is never repeated"
    body = await flow.ok("send_code", phone="+442079460123")
    assert body["state"] == "sms_code_setup" and body["challenge"]["delivery"] == "failed"
    assert body["challenge"]["to"].startswith("+44 ") and body["challenge"]["to"].endswith("23")


@pytest.mark.parametrize("phone, kind", [("+19005550123", "premium rate"), ("+448712345678", "premium rate"),
                                         ("+18005550123", "toll free")])
async def test_no_code_goes_to_a_premium_rate_or_toll_free_number(codes, codes_db, phone, kind):
    """Issue 21: numbers that bill the sender, or take no texts, get no codes (phonenumbers
    tells the type) unless MFA_FLOW_SMS_NUMBER_TYPES lists it."""
    user, flow = await setting_up(codes, "sms_code", "premium")
    for reply in (await flow.send("send_code", phone=phone),
                  await codes.admin("POST", f"/api/users/{user['id']}/mfa-verifications",
                                    {"type": "sms_code", "phone": phone})):
        assert reply.status == 422, reply
        assert reply.problem["type"] == "urn:mfa-flow:problem:number-type-refused"
        assert reply.problem["detail"] == (f"phone: a {kind} number gets no codes; MFA_FLOW_SMS_NUMBER_TYPES allows"
                                           " mobile, fixed_line_or_mobile, fixed_line, voip, personal_number")
    assert (await codes.call("GET", f"/api/flows/{flow.id}", flow.token)).body["challenge"]["to"] is None
    assert await _stored_codes(codes_db, flow.id) == [], "no code was issued"


async def test_a_setting_allows_a_number_type_and_an_enrolled_number_refused_later_gets_no_code(codes, codes_db,
                                                                                                processes):
    """An operator who wants premium-rate numbers lists the type; a number enrolled under that
    setting and refused under another fails visibly on entering verification."""
    allowing = ServerProcess(codes_db, **CODE_SETTINGS,
                             MFA_FLOW_SECRET_KEY=processes[0].env["MFA_FLOW_SECRET_KEY"],
                             MFA_FLOW_SMS_NUMBER_TYPES="mobile,premium_rate")
    await allowing.started()
    try:
        lenient = Api(allowing.base_url, codes.session)
        user = await codes.new_user(unique("premium-ok"))
        path = f"/api/users/{user['id']}/mfa-verifications"
        added = await lenient.admin("POST", path, {"type": "sms_code", "phone": "+19005550123"})
        assert added.status == 201, added
        other = await codes.new_user(unique("landline"))
        refused = await lenient.admin("POST", f"/api/users/{other['id']}/mfa-verifications",
                                      {"type": "sms_code", "phone": "+442079460123"})
        assert refused.status == 422 and refused.problem["detail"].startswith("phone: a fixed line number gets no codes")
    finally:
        await asyncio.to_thread(allowing.stop)
    await codes.configure(["sms_code"], "mandatory")
    flow = await codes.start()
    await flow.password(user["username"])
    assert flow.state == "sms_code_verify"
    assert (flow.flow["challenge"]["delivery"], flow.flow["challenge"]["refused"]) == ("failed", "number_type")


@pytest.fixture(scope="module")
async def without_smtp(codes_db, processes):
    """A second server on the same database with no SMTP server configured (the module's
    worker delivers its webhooks)."""
    process = ServerProcess(codes_db, **CODE_SETTINGS, MFA_FLOW_SECRET_KEY=processes[0].env["MFA_FLOW_SECRET_KEY"])
    await process.started()
    yield process
    await asyncio.to_thread(process.stop)


async def test_without_smtp_email_codes_go_by_webhook_too(codes, receivers, without_smtp, http):
    (_, _), (by_name, endpoint) = receivers
    api = Api(without_smtp.base_url, http)
    address, user, flow = await verifying_by_email(api)
    assert flow.flow["challenge"]["delivery"] == "queued"
    (received,) = await eventually(lambda: by_name.received)
    data = Webhook(endpoint["secret"]).verify(received.body, received.headers)["data"]
    assert (data["channel"], data["to"], data["flow_id"]) == ("email", address, flow.id)
    SEEN.append(data["code"])
    await eventually(lambda: _delivery_is(flow, "sent"))
    assert (await flow.ok("submit_email_code", code=data["code"]))["result"]["amr"] == ["pwd", "otp", "mfa"]


# --- abuse limits for sending ---------------------------------------------------------------------


@pytest.fixture(scope="module")
async def limited(codes_db, smtp, processes):
    """A second server on the same database, with small budgets for codes."""
    process = ServerProcess(codes_db, **CODE_SETTINGS, MFA_FLOW_SMTP_URL=smtp.url,
                            MFA_FLOW_SECRET_KEY=processes[0].env["MFA_FLOW_SECRET_KEY"],
                            MFA_FLOW_RATE_CODES="3", MFA_FLOW_RATE_CODES_PER_DESTINATION="2")
    await process.started()
    yield process
    await asyncio.to_thread(process.stop)


async def test_codes_sent_are_limited_per_destination_and_per_client_address(limited, http, smtp):
    api = Api(limited.base_url, http)
    await api.configure(["email_code"], "mandatory")
    address = f"{uuid.uuid4().hex[:10]}@example.com"
    user = await user_with(api, "email_code", email=address)
    # Per destination, whoever asks (here the admin key, which no address budget counts).
    for _ in range(2):
        flow = await api.start({"id": user["id"]})
        assert flow.flow["challenge"]["delivery"] == "sent"
    third = await api.start({"id": user["id"]})
    assert third.state == "email_code_verify"  # the step holds; the code did not go
    assert (third.flow["challenge"]["delivery"], third.flow["challenge"]["refused"]) == ("failed",
                                                                                          "codes_per_destination")
    refused = await third.send("send_code")
    assert refused.status == 429 and refused.problem["limit"] == "codes_per_destination"
    assert int(refused.headers["Retry-After"]) > CODE_RESEND

    # Per client address: three set-ups from this address to three addresses; the fourth waits.
    others = await asyncio.gather(*(api.new_user(unique("rate")) for _ in range(4)))
    replies = []
    for other in others:
        flow = await api.start()
        await flow.password(other["username"])
        replies.append(await flow.send("send_code", email=f"{uuid.uuid4().hex[:10]}@example.com"))
    assert [r.status for r in replies] == [200, 200, 200, 429]
    assert replies[-1].problem["limit"] == "codes_sent" and int(replies[-1].headers["Retry-After"]) >= 1
    await eventually(lambda: len(smtp.mailbox.to(address)) == 2)
    for _rcpt, message in smtp.mailbox.messages:
        SEEN.append(code_of(message))


@pytest.fixture(scope="module")
async def per_destination_only(codes_db, smtp, processes):
    """A server on the same database whose only code budget is the destination's (2 an hour)."""
    process = ServerProcess(codes_db, **CODE_SETTINGS, MFA_FLOW_SMTP_URL=smtp.url,
                            MFA_FLOW_SECRET_KEY=processes[0].env["MFA_FLOW_SECRET_KEY"],
                            MFA_FLOW_RATE_CODES="0", MFA_FLOW_RATE_CODES_PER_DESTINATION="2")
    await process.started()
    yield process
    await asyncio.to_thread(process.stop)


async def test_the_per_destination_budget_counts_an_address_whatever_the_case_it_is_written_in(
        per_destination_only, http, smtp):
    """Issue 21, defect 6: ``Ab@`` and ``aB@`` reach the mailbox ``ab@`` reaches, so they share
    its budget (the users table compares ``lower(email)`` too)."""
    api = Api(per_destination_only.base_url, http)
    local = uuid.uuid4().hex[:10]
    spellings = [f"x{local}@example.com", f"X{local}@example.com", f"x{local.upper()}@EXAMPLE.com"]
    replies = []
    for spelling in spellings:
        _, flow = await setting_up(api, "email_code", "case")
        replies.append(await flow.send("send_code", email=spelling))
    assert [r.status for r in replies] == [200, 200, 429], replies
    assert replies[-1].problem["limit"] == "codes_per_destination"
    assert spellings[-1] not in replies[-1].problem["detail"] and local not in replies[-1].problem["detail"]
    def to_this_mailbox() -> list:
        return [m for rcpt, m in smtp.mailbox.messages if any(local in r.lower() for r in rcpt)]

    await eventually(lambda: len(to_this_mailbox()) == 2)
    SEEN.extend(code_of(message) for message in to_this_mailbox())


# --- the audit log replays the code steps ---------------------------------------------------------


async def test_audit_verify_replays_sends_resends_and_delivery_outcomes(codes, smtp, processes):
    address, _, flow = await verifying_by_email(codes)
    await asyncio.sleep(CODE_RESEND + 0.1)
    await flow.ok("send_code")
    code = await next_code(smtp.mailbox, address, after=1)
    await flow.ok("submit_email_code", code=code)
    events = [(r["event"], r["data"]["guard"]) for r in await codes.transitions(flow.id)]
    assert events == [("submit_password", "credentials_ok"), ("code_delivery", "code_delivered"),
                      ("send_code", "code_sent"), ("code_delivery", "code_delivered"), ("submit_email_code", "proof_ok")]
    verified = await asyncio.to_thread(mfa_flow, processes[0], "audit", "verify", "--no-progress")
    assert verified.code == 0, verified


# --- no code where it should not be -------------------------------------------------------------


async def test_no_code_is_in_a_log_line_a_transition_an_answer_or_a_database_dump(codes, smtp, processes, codes_db,
                                                                                  test_database):
    address, user, flow = await verifying_by_email(codes)
    code = await next_code(smtp.mailbox, address, after=0)
    answers = [(await flow.send("submit_email_code", code=f"{(int(code) + 7) % 10**6:06d}")).body]
    answers.append(await flow.read())
    answers.append(await flow.ok("submit_email_code", code=code))
    await asyncio.sleep(0.3)  # let the worker's and server's last lines reach their logs
    seen = sorted(set(SEEN))
    assert code in seen

    async def the_feed():
        reply = await codes.admin("GET", "/api/audit/transitions?limit=10000")
        return reply if reply.status == 200 and flow.id in reply.body else None

    feed = await eventually(the_feed, what="the audit feed with the flow's rows")
    dump = subprocess.run([test_database.pg_dump(), "--data-only", codes_db], capture_output=True, text=True,
                          check=True).stdout
    assert address in dump, "the dump is real and holds the user's address"
    logs = processes[0].log() + processes[1].log()
    assert flow.id in logs, "the logs are real"
    places = {"server and worker logs": logs, "transition log": feed.body, "database dump": dump,
              "answers": repr(answers)}
    for where, text in places.items():
        for value in seen:
            # Bounded by anything but a digit, a letter or the '.' of a timestamp's fraction (a
            # timestamp's microseconds, a hex digest and base64 may hold six digits by chance).
            assert not re.search(rf"(?<![0-9A-Za-z.+/=_-]){value}(?![0-9A-Za-z])", text), f"a code is in the {where}"



# --- in the user's language (issue 27) ---------------------------------------------------------


async def test_the_email_and_the_sms_text_are_in_the_user_s_language(codes, smtp, receivers):
    await codes.configure(["email_code", "sms_code"], "mandatory")
    address = f"{uuid.uuid4().hex[:10]}@example.com"
    user = await user_with(codes, "email_code", email=address)
    changed = await codes.admin("PATCH", f"/api/users/{user['id']}", {"locale": "de-CH"})
    assert changed.status == 200 and changed.body["locale"] == "de", changed
    refused = await codes.admin("PATCH", f"/api/users/{user['id']}", {"locale": "tlh"})
    assert refused.status == 422 and "not offered" in refused.problem["detail"], refused
    await signed_in_to_verify(codes, user)
    (message,) = await eventually(lambda: smtp.mailbox.to(address))
    SEEN.append(code_of(message))
    assert message["Subject"] == "Ihr Bestätigungscode für Acme Sign-In" and message["Content-Language"] == "de"
    assert "Er läuft in 1 Minute ab" in message.get_body(("plain",)).get_content()
    assert '<html lang="de" dir="ltr">' in message.get_body(("html",)).get_content()

    (_, _), (by_name, endpoint) = receivers
    arabic = await user_with(codes, "sms_code", phone="+14155550125")
    assert (await codes.admin("PATCH", f"/api/users/{arabic['id']}", {"locale": "ar"})).status == 200
    await signed_in_to_verify(codes, arabic)
    (received,) = await eventually(lambda: by_name.received)
    data = Webhook(endpoint["secret"]).verify(received.body, received.headers)["data"]
    SEEN.append(data["code"])
    assert data["locale"] == "ar"
    assert data["text"] == f"{data['code']} هو رمز التحقق الخاص بك في Acme Sign-In. تنتهي صلاحيته خلال دقيقة واحدة."


async def test_without_a_locale_of_their_own_a_user_gets_the_code_in_the_language_of_the_page(codes, smtp):
    """The pages send their language (Accept-Language) when they start a flow: its email is in
    that language unless the user has a locale of their own; no language at all: the default."""
    await codes.configure(["email_code"], "mandatory")
    subjects = {}
    for name, header, locale in (("page-fr", "fr-CA, en;q=0.5", None), ("own-de", "fr", "de"), ("none", None, None)):
        address = f"{uuid.uuid4().hex[:10]}@example.com"
        user = await user_with(codes, "email_code", email=address)
        if locale:
            assert (await codes.admin("PATCH", f"/api/users/{user['id']}", {"locale": locale})).status == 200
        reply = await codes.call("POST", "/api/flows", json={}, headers={"Accept-Language": header} if header else {})
        assert reply.status == 201, reply
        flow = FlowClient(codes, reply.body["flow"], reply.body["flow_token"])
        await flow.password(user["username"])
        (message,) = await eventually(lambda address=address: smtp.mailbox.to(address))
        SEEN.append(code_of(message))
        subjects[name] = (message["Subject"], message["Content-Language"])
    assert subjects == {"page-fr": ("Votre code de vérification Acme Sign-In", "fr"),
                        "own-de": ("Ihr Bestätigungscode für Acme Sign-In", "de"),
                        "none": ("Your Acme Sign-In verification code", "en")}
