"""Bad input gets a precise RFC 9457 problem and changes nothing; never a 500."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from urllib.parse import urlsplit

import pytest

from tests.support.names import unique
from tests.support.server import ServerProcess

PROBLEM = "application/problem+json"


async def event(api, flow, body: bytes | str, headers=None):
    return await api.call("POST", f"/api/flows/{flow.id}/events", flow.token, data=body, headers=headers)


@pytest.mark.parametrize(
    "body,status,detail",
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "must be a JSON object"),
        (b"", 400, "needs a JSON body"),
        (b'{"type": "teleport"}', 400, "unknown event 'teleport'"),
        (b'{"type": "expire"}', 400, "unknown event 'expire'"),
        (b'{"type": 7}', 400, "'type' string"),
        (b'{"username": "x"}', 400, "'type' string"),
        (b'{"type": "submit_password", "username": "x"}', 400, "'password' is a required property"),
        (b'{"type": "submit_password", "username": "x", "password": 5}', 400, "body.password: must be of type string"),
        (b'{"type": "cancel", "extra": 1}', 400, "Additional properties are not allowed ('extra'"),
        (b'{"type": "cancel", "expected_version": "one"}', 400, "body.expected_version: must be of type integer"),
        (b'{"type": "submit_totp", "code": "' + b"1" * 100 + b'"}', 400, "body.code: must be at most 32 characters long"),
        (b"[" * 50_000, 400, "nested too deeply"),
        (b'\xff\xfe', 400, "not valid JSON"),
        (b'{"type": "submit_password", "username": "a\\u0000b", "password": "x"}', 400, "body.username: "),
        (b'{"type": "submit_password", "username": "a", "password": "\\ud800"}', 400, "not valid Unicode"),
    ],
)
async def test_malformed_events_are_refused_with_a_precise_detail(api, body, status, detail):
    flow = await api.start()
    reply = await event(api, flow, body)
    assert reply.status == status, reply
    assert reply.headers["Content-Type"].startswith(PROBLEM)
    assert detail in reply.problem["detail"], reply.problem
    assert (await flow.read())["version"] == 0, "nothing was written"


async def test_error_details_never_repeat_the_value_sent(api):
    flow = await api.start()
    secret = "S3cret!" * 200
    reply = await flow.send("submit_password", username="someone", password=secret)
    assert reply.status == 400 and "body.password: must be at most 1024 characters long" == reply.problem["detail"]
    assert "S3cret!" not in str(reply.body)


async def test_totp_codes_in_other_scripts_digits_are_wrong_codes_not_errors(api):
    await api.configure(["totp"], "mandatory")
    user = await api.new_user(unique("digits"))
    flow = await api.start()
    await flow.password(user["username"])
    reply = await flow.send("submit_totp", code="١٢٣٤٥٦")
    assert reply.status == 422 and reply.problem["attempts_left"] == 4


async def test_a_flow_id_in_capitals_is_the_same_flow_and_long_polls_wake(api):
    import asyncio

    flow = await api.start()
    path = f"/api/flows/{flow.id.upper()}"
    assert (await api.call("GET", path, flow.token)).body["id"] == flow.id
    waiter = asyncio.create_task(api.call("GET", path + "?wait=20", flow.token, headers={"If-None-Match": '"0"'}))
    await asyncio.sleep(0.3)
    await flow.ok("cancel")
    reply = await asyncio.wait_for(waiter, 5)
    assert reply.status == 200 and reply.body["state"] == "cancelled"


async def test_a_header_that_is_not_utf8_is_unauthorized_not_an_error(server):
    import asyncio

    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /api/config/mfa HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\nConnection: close\r\n\r\n")
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 401"), status_line


async def test_an_oversized_body_is_refused_with_413(api):
    flow = await api.start()
    reply = await event(api, flow, b'{"type": "cancel", "pad": "' + b"x" * 70_000 + b'"}')
    assert reply.status == 413 and "too large" in reply.problem["detail"]


async def test_a_body_that_is_not_json_by_content_type_is_refused_with_415(api):
    flow = await api.start()
    reply = await event(api, flow, b"type=cancel", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 415 and "application/json" in reply.problem["detail"]


async def test_an_event_of_another_state_is_a_conflict_that_names_the_allowed_ones(api):
    flow = await api.start()
    reply = await flow.send("submit_totp", code="123456")
    assert reply.status == 409
    assert reply.problem["detail"] == "submit_totp is not allowed in state first_factor; allowed: submit_password, cancel"


async def test_sign_up_is_refused_when_it_is_off(api):
    flow = await api.start()
    reply = await flow.send("submit_registration", username=unique("zed"), password="long enough password")
    assert reply.status == 409 and "submit_registration is not allowed" in reply.problem["detail"]


@pytest.mark.parametrize("flow_id", ["not-a-uuid", "00000000-0000-4000-8000-000000000000"])
async def test_unknown_flows_are_404(api, flow_id):
    reply = await api.admin("GET", f"/api/flows/{flow_id}")
    assert reply.status == 404 and reply.problem["detail"] == f"flow {flow_id} does not exist"


class TestWhoMayDoWhat:
    async def test_reading_a_flow_needs_credentials(self, api):
        flow = await api.start()
        reply = await api.call("GET", f"/api/flows/{flow.id}")
        assert reply.status == 401 and reply.headers["WWW-Authenticate"] == "Bearer"

    async def test_a_flow_token_opens_only_its_own_flow(self, api):
        mine, theirs = await api.start(), await api.start()
        reply = await api.call("GET", f"/api/flows/{theirs.id}", mine.token)
        assert reply.status == 403 and "another flow" in reply.problem["detail"]

    async def test_the_auditor_reads_but_does_not_drive(self, api):
        flow = await api.start()
        assert (await api.auditor("GET", f"/api/flows/{flow.id}")).status == 200
        reply = await api.auditor("POST", f"/api/flows/{flow.id}/events", {"type": "cancel"})
        assert reply.status == 403 and "may read flows but not drive them" in reply.problem["detail"]

    async def test_the_admin_drives_but_sees_no_secrets(self, api):
        await api.configure(["totp", "backup_code"], "mandatory")
        user = await api.new_user(unique("amy"))
        flow = await api.start()
        reply = await api.admin("POST", f"/api/flows/{flow.id}/events",
                                {"type": "submit_password", "username": user["username"], "password": "correct horse battery"})
        assert reply.status == 200 and reply.body["state"] == "totp_setup"
        assert reply.body["challenge"] is None
        assert (await flow.read())["challenge"]["secret"]

    async def test_the_auditor_sees_the_result_but_not_its_token(self, api):
        await api.configure([], "mandatory")
        user = await api.new_user(unique("aud"))
        flow = await api.start()
        await flow.password(user["username"])
        assert flow.flow["result"]["token"]
        seen = (await api.auditor("GET", f"/api/flows/{flow.id}")).body["result"]
        assert seen == {"amr": ["pwd"], "acr": "urn:mfa-flow:acr:pwd"}
        assert (await api.admin("GET", f"/api/flows/{flow.id}")).body["result"]["token"]

    async def test_management_needs_the_admin_key(self, api):
        assert (await api.call("GET", "/api/config/mfa")).status == 401
        assert (await api.auditor("GET", "/api/config/mfa")).status == 403
        assert (await api.call("GET", "/api/config/mfa", "not-a-key")).status == 401
        bad_scheme = await api.call("GET", "/api/config/mfa", headers={"Authorization": "Basic eDp5"})
        assert bad_scheme.status == 401 and "Bearer" in bad_scheme.problem["detail"]

    async def test_transitions_are_for_admin_and_auditor(self, api):
        flow = await api.start()
        assert (await api.call("GET", f"/api/flows/{flow.id}/transitions", flow.token)).status == 403


async def test_unknown_paths_and_methods_are_problems_too(api):
    reply = await api.call("GET", "/api/nothing-here")
    assert reply.status == 404 and reply.headers["Content-Type"].startswith(PROBLEM)
    reply = await api.admin("DELETE", "/api/config/mfa")
    assert reply.status == 405 and "DELETE is not allowed" in reply.problem["detail"]
    assert "GET" in reply.headers["Allow"]


class Trickle:
    """A raw HTTP/1.1 client that sends its headers at once and then its body a byte at a
    time, slowly: the slow-body attack that holds a server's connection and handler."""

    def __init__(self, base_url: str, chunked: bool):
        self.url = urlsplit(base_url)
        self.chunked = chunked

    async def run(self) -> tuple[bytes, float, float]:
        """Send until the server answers and closes: (the answer, seconds until it came,
        seconds until the server closed the connection)."""
        reader, writer = await asyncio.open_connection(self.url.hostname, self.url.port)
        framing = "Transfer-Encoding: chunked" if self.chunked else "Content-Length: 400"
        writer.write(f"POST /api/flows HTTP/1.1\r\nHost: {self.url.netloc}\r\nContent-Type: application/json\r\n"
                     f"{framing}\r\n\r\n".encode())
        started = time.monotonic()
        trickler = asyncio.create_task(self._trickle(writer))
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
            answer = head + await reader.readexactly(length)
            answered = time.monotonic() - started
            with contextlib.suppress(ConnectionError):
                await asyncio.wait_for(reader.read(), 30)  # to the end: the server closes
            return answer, answered, time.monotonic() - started
        finally:
            trickler.cancel()
            writer.close()

    async def _trickle(self, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while True:
                writer.write(b"1\r\n \r\n" if self.chunked else b" ")
                await writer.drain()
                await asyncio.sleep(0.25)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_body_that_trickles_in_is_cut_off_with_408_and_the_connection_closed(database_url, chunked):
    server = await ServerProcess(database_url, MFA_FLOW_BODY_TIMEOUT="2").started()
    try:
        answer, answered, closed = await Trickle(server.base_url, chunked).run()
    finally:
        await asyncio.to_thread(server.stop)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), answer[:300]
    assert b"Content-Type: application/problem+json" in head and b"Connection: close" in head
    problem = json.loads(body)
    assert problem["type"] == "urn:mfa-flow:problem:request-timeout"
    assert problem["detail"] == "the request body did not arrive within 2 s (MFA_FLOW_BODY_TIMEOUT)"
    # Cut off: answered at the timeout, the connection closed soon after (while the body was
    # still coming: 400 bytes at 4 a second would take 100 s). The server's clock starts when
    # it has read the headers, a moment before ours, so the lower bound keeps some slack.
    assert 1.5 <= answered < 6 and closed < answered + 5, (answered, closed)


# Every query parameter the API reads, with a value no field may hold (issue 21, defect 12: a
# NUL reached PostgreSQL and was a 500).
QUERIES = [
    ("/api/flows", "user_id"), ("/api/flows", "state"), ("/api/flows", "before"), ("/api/flows", "limit"),
    ("/api/users", "search"), ("/api/users", "after"), ("/api/audit/transitions", "after"),
    ("/api/audit/proof/inclusion", "cursor"), ("/api/flows/sse", "token"),
]


@pytest.mark.parametrize("path,name", QUERIES)
@pytest.mark.parametrize("value", ["%00", "a%00b", "%1b", "%7f", "x%0d%0aSet-Cookie:%20a=b"])
async def test_a_control_character_in_a_query_parameter_is_a_400_naming_it(api, path, name, value):
    reply = await api.admin("GET", f"{path}?{name}={value}")
    assert reply.status == 400, (path, name, value, reply)
    assert reply.problem["detail"] == f"query.{name}: must not contain control characters"
    assert reply.problem["parameter"] == name


async def test_a_query_parameter_given_twice_or_with_a_bad_name_is_a_400(api):
    reply = await api.auditor("GET", "/api/flows?user_id=a&user_id=b")
    assert reply.status == 400 and reply.problem["detail"] == "query.user_id: must be given once, not 2 times"
    reply = await api.auditor("GET", "/api/flows?user%00id=a")
    assert reply.status == 400 and reply.problem["detail"] == "a query parameter's name holds control characters"
    # An undeclared parameter (a cache-buster) is left alone.
    assert (await api.auditor("GET", "/api/flows?_=1&_=2")).status == 200
