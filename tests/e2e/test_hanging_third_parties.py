"""No network call to a third party holds a database connection (issue 21, defect 3), against
real processes: an SMTP server that accepts and never answers, a webhook receiver that never
answers. While they hang, no pooled connection is held (none idle in a transaction), /readyz
answers and admin reads stay fast. A send that reached the mail server but whose reply was
lost (the process died) goes out again once its lease ends, with the same ``Message-ID``."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
import uuid

import asyncpg
import pytest
from aiosmtpd.controller import Controller

from tests.support.client import Api
from tests.support.server import SECRET_KEY, ServerProcess, free_port, server_and_worker
from tests.support.smtp import SmtpServer
from tests.support.waiting import eventually

HANGING_SENDS = 11  # one more than the pool of the process before this fix (10)


class SilentServer:
    """A TCP server that accepts connections and reads what comes, and never says a word
    (an SMTP server that does not greet, a webhook receiver that does not answer)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.connections = 0
        self.received = b""
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        while chunk := await reader.read(4096):
            self.received += chunk

    async def __aenter__(self) -> SilentServer:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *_exc) -> None:
        for writer in self._writers:
            writer.close()
        assert self._server is not None
        self._server.close()


async def held_connections(conn: asyncpg.Connection, database: str) -> int:
    """Connections of the service's processes held open in a transaction that has waited for
    half a second or more: what a claim held across a network call looks like (a unit of work
    between two of its statements waits for microseconds)."""
    return await conn.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()"
        " AND state LIKE 'idle in transaction%' AND state_change < clock_timestamp() - interval '0.5 second'",
        database,
    )


async def user_with_email(api: Api) -> dict:
    user = await api.new_user(f"hang-{uuid.uuid4().hex[:8]}")
    reply = await api.admin("POST", f"/api/users/{user['id']}/mfa-verifications",
                            {"type": "email_code", "email": f"{uuid.uuid4().hex[:10]}@example.com"})
    assert reply.status == 201, reply
    return user


@pytest.fixture(scope="module")
async def own_db(test_database):
    async with test_database.own("hanging") as url:
        yield url


async def test_a_hanging_smtp_server_holds_no_database_connection_and_admin_reads_stay_fast(own_db, http):
    database = own_db.rsplit("/", 1)[1].split("?")[0]
    async with SilentServer() as smtp:
        server = await ServerProcess(own_db, MFA_FLOW_SMTP_URL=f"smtp://127.0.0.1:{smtp.port}",
                                     MFA_FLOW_RATE_CODES_PER_DESTINATION="0").started()
        try:
            api = Api(server.base_url, http)
            await api.configure(["email_code"], "mandatory")
            users = [await user_with_email(api) for _ in range(HANGING_SENDS)]
            flows = [await api.start() for _ in users]
            # Each password sign-in enters email_code_verify, which sends a code at once.
            signing_in = [asyncio.create_task(flow.send("submit_password", username=user["username"],
                                                        password="correct horse battery"))
                          for flow, user in zip(flows, users, strict=True)]
            # (Before the fix a send held one of the pool's 10 connections: the eleventh waited for one.)
            await eventually(lambda: smtp.connections >= 10, timeout=20, what="the sends connected")
            conn = await asyncpg.connect(own_db)
            try:
                held, reads, ready = [], [], []
                for _ in range(5):
                    held.append(await held_connections(conn, database))
                    started = time.perf_counter()
                    reply = await api.admin("GET", "/api/users?limit=5")
                    reads.append(time.perf_counter() - started)
                    assert reply.status == 200, reply
                    started = time.perf_counter()
                    reply = await api.call("GET", "/readyz")
                    ready.append((reply.status, round(time.perf_counter() - started, 3)))
                    await asyncio.sleep(0.3)
            finally:
                await conn.close()
            print(f"\nwhile {HANGING_SENDS} sends hang: pool connections held {held}, admin read"
                  f" {[round(r * 1000) for r in reads]} ms, /readyz {ready}")
            assert max(held) == 0, f"connections held while the SMTP server hangs: {held}"
            assert max(reads) < 1.0, f"admin reads took {reads} s"
            assert all(status == 200 for status, _ in ready), ready
            for task in signing_in:
                task.cancel()
            await asyncio.gather(*signing_in, return_exceptions=True)
        finally:
            await asyncio.to_thread(server.stop)


class DataThenSilence:
    """aiosmtpd's handler: keeps each message, and does not answer its DATA until released
    (the mail was taken, the ``250`` never comes)."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.released = threading.Event()

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        for _ in range(600):
            if self.released.is_set():
                break
            await asyncio.sleep(0.1)
        return "250 Message accepted for delivery"


async def test_a_send_whose_reply_was_lost_goes_again_after_its_lease_with_the_same_message_id(own_db, http):
    silent = DataThenSilence()
    controller = Controller(silent, hostname="127.0.0.1", port=free_port())
    controller.start()
    answering = SmtpServer().start()
    first = second = None
    try:
        first = await ServerProcess(own_db, MFA_FLOW_SMTP_URL=f"smtp://127.0.0.1:{controller.port}",
                                    MFA_FLOW_RATE_CODES_PER_DESTINATION="0").started()
        api = Api(first.base_url, http)
        await api.configure(["email_code"], "mandatory")
        user = await user_with_email(api)
        flow = await api.start()
        signing_in = asyncio.create_task(flow.send("submit_password", username=user["username"],
                                                   password="correct horse battery"))
        await eventually(lambda: silent.messages, timeout=20, what="the mail server took the message")
        await asyncio.to_thread(first.kill)  # before the 250: the send is not recorded
        await asyncio.gather(signing_in, return_exceptions=True)
        (taken,) = silent.messages

        second = await ServerProcess(own_db, MFA_FLOW_SMTP_URL=answering.url, MFA_FLOW_SWEEP_INTERVAL="0.2",
                                     MFA_FLOW_RATE_CODES_PER_DESTINATION="0").started()
        conn = await asyncpg.connect(own_db)
        try:
            (row,) = await conn.fetch("SELECT status, sending_until > now() AS leased FROM code_deliveries"
                                      " WHERE flow_id = $1::uuid", flow.id)
            assert (row["status"], row["leased"]) == ("queued", True)
            await asyncio.sleep(1.5)  # several sweeps: the lease keeps the message from a second sender
            assert answering.mailbox.received == []
            # The lease (and the sweep's grace for fresh messages) ends: as if the time had passed.
            await conn.execute("UPDATE code_deliveries SET sending_until = now() - interval '1 second',"
                               " created_at = now() - interval '1 minute' WHERE flow_id = $1::uuid", flow.id)
            (again,) = await eventually(lambda: answering.mailbox.received, timeout=20, what="the message again")
            assert again["Message-ID"] == taken["Message-ID"], "a receiver can drop the copy"
            assert again["Message-ID"].startswith("<") and again["Message-ID"].endswith(">")
            assert again.get_body(("plain",)).get_content() == taken.get_body(("plain",)).get_content()
            status = await eventually(lambda: conn.fetchval(
                "SELECT status FROM code_deliveries WHERE flow_id = $1::uuid AND status <> 'queued'", flow.id))
            assert status == "sent"
        finally:
            await conn.close()
    finally:
        silent.released.set()
        for process in (first, second):
            if process is not None:
                await asyncio.to_thread(process.stop)
        controller.stop()
        answering.stop()


async def test_a_hanging_webhook_receiver_holds_no_database_connection(own_db, http):
    database = own_db.rsplit("/", 1)[1].split("?")[0]
    async with SilentServer() as receiver:
        shared = {"MFA_FLOW_WEBHOOK_ALLOW_PRIVATE": "1", "MFA_FLOW_SECRET_KEY": SECRET_KEY}  # the module's database's
        async with server_and_worker(own_db, shared) as (server, _worker):
            api = Api(server.base_url, http)
            reply = await api.admin("POST", "/api/webhooks",
                                    {"url": f"http://127.0.0.1:{receiver.port}/hook", "events": ["flow.created"]})
            assert reply.status == 201, reply
            for _ in range(3):
                await api.start()
            await eventually(lambda: b"\r\n\r\n" in receiver.received, timeout=20, what="a POST arrived")
            conn = await asyncpg.connect(own_db)
            try:
                held = []
                for _ in range(5):
                    held.append(await held_connections(conn, database))
                    await asyncio.sleep(0.3)
            finally:
                await conn.close()
            assert max(held) == 0, f"connections held while the webhook receiver hangs: {held}"
