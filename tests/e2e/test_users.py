"""Users in the Management API (contract, second part: "Users"): list and search with a cursor,
email and phone, PATCH, and users imported with a password digest from another system, rehashed
to argon2id at their first sign-in (and again when MFA_FLOW_PASSWORD_HASH changes)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
from urllib.parse import quote

import bcrypt
import pytest
from argon2 import PasswordHasher, Type, extract_parameters

from tests.support.client import Api
from tests.support.names import unique

PASSWORD = "correct horse battery"



async def stored_password(run_database, user_id: str) -> tuple[str, str]:
    conn = await run_database.get()
    row = await conn.fetchrow("SELECT password_hash, password_algorithm FROM users WHERE id = $1", user_id)
    return row["password_hash"], row["password_algorithm"]


async def signs_in(api: Api, username: str, password: str = PASSWORD) -> dict:
    flow = await api.start()
    reply = await flow.send("submit_password", username=username, password=password)
    assert reply.status == 200, reply
    assert reply.body["state"] == "done" and reply.body["result"]["amr"] == ["pwd"]
    return reply.body


async def page(api: Api, **query) -> dict:
    path = "/api/users?" + "&".join(f"{k}={quote(str(v), safe='')}" for k, v in query.items())
    reply = await api.admin("GET", path)
    assert reply.status == 200, reply
    assert set(reply.body) == {"items", "next"}
    return reply.body


# --- list, search, pages ----------------------------------------------------------------------


async def test_25_users_come_in_pages_of_10_in_username_order_and_the_cursor_survives_new_users(api):
    prefix = unique("pg")
    names = sorted(f"{prefix}-{i:02d}" for i in range(25))
    for i, name in enumerate(names):
        reply = await api.admin("POST", "/api/users", {"username": name, "email": f"{name}@example.org",
                                                        "phone": f"+1 212 555 {i:04d}"})
        assert reply.status == 201, reply

    first = await page(api, search=prefix, limit=10)
    assert [u["username"] for u in first["items"]] == names[:10] and first["next"]
    # A user added before the cursor is not seen on later pages; one added after it is.
    await api.new_user(f"{prefix}-05a")
    await api.new_user(f"{prefix}-99")
    second = await page(api, search=prefix, limit=10, after=first["next"])
    third = await page(api, search=prefix, limit=10, after=second["next"])
    assert [u["username"] for u in second["items"]] == names[10:20]
    assert [u["username"] for u in third["items"]] == [*names[20:], f"{prefix}-99"]
    assert third["next"] is None
    assert {"id", "username", "email", "phone", "created_at"} <= set(first["items"][0])
    assert first["items"][3]["email"] == f"{names[3]}@example.org" and first["items"][3]["phone"] == "+12125550003"


async def test_a_search_matches_a_prefix_of_the_username_email_or_phone_whatever_the_case(api):
    tag = uuid.uuid4().hex[:8]
    ann = await api.admin("POST", "/api/users", {"username": f"Ann-{tag}", "email": f"zed.{tag}@Example.com",
                                                  "phone": "+44 20 7946 0123"})
    bob = await api.admin("POST", "/api/users", {"username": f"bob-{tag}", "email": f"ANN-{tag}@example.net"})
    assert ann.status == bob.status == 201
    found = await page(api, search=f"ann-{tag.upper()}")
    assert [u["username"] for u in found["items"]] == [f"Ann-{tag}", f"bob-{tag}"]  # by username, by email
    assert [u["username"] for u in (await page(api, search=f"ZED.{tag}"))["items"]] == [f"Ann-{tag}"]
    for phone in ("+44 20 7946 012", "4420794601", "+442079460123"):
        assert f"Ann-{tag}" in [u["username"] for u in (await page(api, search=phone))["items"]], phone
    assert (await page(api, search=f"nn-{tag}"))["items"] == [], "a prefix, not a substring"
    assert (await page(api, search=f"Ann-{tag}x"))["items"] == []


async def test_a_bad_cursor_or_limit_is_a_400_problem_naming_it(api):
    for query, words in [
        ("after=nonsense", "after: not a cursor this API gave"),
        ("after=u1.%2F%2F8", "after: not a cursor this API gave"),
        ("limit=0", "limit must be a whole number from 1 to 200"),
        ("limit=201", "limit must be a whole number from 1 to 200"),
        ("limit=ten", "limit must be a whole number from 1 to 200"),
        ("search=" + "x" * 321, "search must be at most 320 characters"),
        ("search=a%00b", "query.search: must not contain control characters"),
    ]:
        reply = await api.admin("GET", f"/api/users?{query}")
        assert reply.status == 400 and reply.problem["detail"].startswith(words), (query, reply)
    assert (await api.auditor("GET", "/api/users")).status == 403
    assert (await api.call("GET", "/api/users")).status == 401


# --- email and phone --------------------------------------------------------------------------


async def test_email_and_phone_are_stored_normalised(api):
    name = unique("cy")
    reply = await api.admin("POST", "/api/users", {"username": name, "email": f" {name}@EXAMPLE.com ",
                                                    "phone": "+1 (415) 555-0142"})
    assert reply.status == 201, reply
    assert (reply.body["email"], reply.body["phone"]) == (f"{name}@example.com", "+14155550142")
    assert (await api.admin("GET", f"/api/users/{reply.body['id']}")).body["phone"] == "+14155550142"
    bare = await api.new_user(unique("dee"))
    assert bare["email"] is None and bare["phone"] is None


@pytest.mark.parametrize("field, value, words", [
    ("email", "not-an-address", "is not a valid email address"),
    ("email", "a@localhost", "is not a valid email address"),
    ("phone", "4155550142", "has no country code"),
    ("phone", "+1 555", "is not a"),
    ("email", "secret.person@1.2.3.4", "is not a valid email address"),
    ("phone", "+999 1234 5678", "is not a"),
])
async def test_an_invalid_email_or_phone_is_a_400_naming_the_field(api, field, value, words):
    reply = await api.admin("POST", "/api/users", {"username": unique("eve"), field: value})
    assert reply.status == 400 and reply.problem["detail"].startswith(f"body.{field}: "), reply
    assert words in reply.problem["detail"]
    # Issue 21: the README promises values are never repeated; these were.
    assert value not in reply.problem["detail"]
    user = await api.new_user(unique("eve"))
    patched = await api.admin("PATCH", f"/api/users/{user['id']}", {field: value})
    assert patched.status == 400 and patched.problem["detail"].startswith(f"body.{field}: ")
    assert value not in patched.problem["detail"]


async def test_an_email_or_phone_belongs_to_one_user_only(api):
    tag = uuid.uuid4().hex[:8]
    first = await api.admin("POST", "/api/users", {"username": unique("fay"), "email": f"fay.{tag}@example.com",
                                                    "phone": "+1 646 555 0199"})
    assert first.status == 201
    same_email = await api.admin("POST", "/api/users", {"username": unique("fay"), "email": f"FAY.{tag}@Example.com"})
    assert same_email.status == 409 and same_email.problem["detail"] == "a user with this email exists already"
    same_phone = await api.admin("POST", "/api/users", {"username": unique("fay"), "phone": "+16465550199"})
    assert same_phone.status == 409 and same_phone.problem["detail"] == "a user with this phone exists already"
    other = await api.new_user(unique("gus"))
    taken = await api.admin("PATCH", f"/api/users/{other['id']}", {"phone": "+1 646-555-0199"})
    assert taken.status == 409 and "phone" in taken.problem["detail"]
    # Freed by clearing it, the number can move to the other user.
    assert (await api.admin("PATCH", f"/api/users/{first.body['id']}", {"phone": None})).body["phone"] is None
    assert (await api.admin("PATCH", f"/api/users/{other['id']}", {"phone": "+1 646-555-0199"})).status == 200


# --- PATCH ----------------------------------------------------------------------------------


async def test_patch_changes_only_the_fields_it_names(api):
    user = await api.new_user(unique("hal"))
    email = f"{user['username']}@example.com"
    reply = await api.admin("PATCH", f"/api/users/{user['id']}", {"email": email, "phone": "+1 718 555 0100"})
    assert reply.status == 200 and (reply.body["email"], reply.body["phone"]) == (email, "+17185550100")
    reply = await api.admin("PATCH", f"/api/users/{user['id']}", {"phone": None})
    assert (reply.body["email"], reply.body["phone"]) == (email, None)
    assert (await api.admin("GET", f"/api/users/{user['id']}")).body == reply.body
    assert (await api.admin("PATCH", f"/api/users/{user['id']}", {})).body == reply.body


async def test_patch_sets_a_new_password_and_the_old_one_stops_working(api, run_database):
    user = await api.new_user(unique("ida"))
    reply = await api.admin("PATCH", f"/api/users/{user['id']}", {"password": "a new passphrase"})
    assert reply.status == 200 and reply.body["has_password"] is True
    assert (await stored_password(run_database, user["id"]))[1] == "argon2"
    await signs_in(api, user["username"], "a new passphrase")
    flow = await api.start()
    assert (await flow.send("submit_password", username=user["username"], password=PASSWORD)).status == 422


async def test_patch_refuses_what_it_does_not_change_and_unknown_users(api):
    user = await api.new_user(unique("jo"))
    for body in ({"username": "renamed"}, {"password_digest": "x"}, {"password": ""}):
        reply = await api.admin("PATCH", f"/api/users/{user['id']}", body)
        assert reply.status == 400 and reply.problem["detail"].startswith("body"), (body, reply)
    assert (await api.admin("PATCH", "/api/users/no-such-user", {"email": "x@example.com"})).status == 404


# --- users imported with a digest from another system --------------------------------------------


def scrypt_digest(password: str) -> str:
    salt = b"sixteen byte slt"
    key = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    b64 = lambda raw: base64.b64encode(raw).decode().rstrip("=")  # noqa: E731
    return f"$scrypt$ln=14,r=8,p=1${b64(salt)}${b64(key)}"


def pbkdf2_digest(password: str) -> str:
    key = hashlib.pbkdf2_hmac("sha256", password.encode(), b"Django1salt", 260_000)
    return f"pbkdf2_sha256$260000$Django1salt${base64.b64encode(key).decode()}"


DIGESTS = {
    "argon2": lambda pw: PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, type=Type.I).hash(pw),
    "bcrypt": lambda pw: bcrypt.hashpw(pw.encode(), bcrypt.gensalt(10)).decode(),
    "scrypt": scrypt_digest,
    "pbkdf2_sha256": pbkdf2_digest,
}


@pytest.mark.parametrize("algorithm", DIGESTS)
async def test_an_imported_user_signs_in_with_their_old_password_and_is_rehashed_to_argon2id(
        api, server, run_database, algorithm):
    digest = DIGESTS[algorithm](PASSWORD)
    name = unique(f"imp-{algorithm}")
    created = await api.admin("POST", "/api/users", {"username": name, "password_digest": digest,
                                                      "password_algorithm": algorithm})
    assert created.status == 201 and created.body["has_password"] is True, created
    assert await stored_password(run_database, created.body["id"]) == (digest, algorithm)

    wrong = await api.start()
    refused = await wrong.send("submit_password", username=name, password=PASSWORD + "?")
    assert refused.status == 422 and refused.problem["attempts_left"] == 4
    assert await stored_password(run_database, created.body["id"]) == (digest, algorithm), "no rehash on a miss"

    await signs_in(api, name)
    rehashed, now = await stored_password(run_database, created.body["id"])
    params = extract_parameters(rehashed)
    assert now == "argon2" and params.type == Type.ID
    assert (params.time_cost, params.memory_cost, params.parallelism) == (3, 65536, 4), "the default profile"
    await signs_in(api, name)  # the new hash works, and is not rehashed again
    assert (await stored_password(run_database, created.body["id"]))[0] == rehashed
    assert digest not in server.log() and rehashed not in server.log(), "no digest is ever logged"


@pytest.mark.parametrize("body, status, words", [
    ({"password_digest": "$2b$10$tooshort", "password_algorithm": "bcrypt"}, 400, "body.password_digest: not a bcrypt"),
    ({"password_digest": DIGESTS["bcrypt"]("x"), "password_algorithm": "scrypt"}, 400, "body.password_digest: not a scrypt"),
    ({"password_digest": "pbkdf2_sha256$9000000$salt$" + "A" * 44, "password_algorithm": "pbkdf2_sha256"}, 422,
     "body.password_digest: pbkdf2_sha256 iterations beyond"),
    ({"password_digest": "$2b$20$" + "a" * 53, "password_algorithm": "bcrypt"}, 422, "body.password_digest: bcrypt cost"),
    ({"password_digest": DIGESTS["bcrypt"]("x"), "password_algorithm": "md5"}, 400, "body.password_algorithm: must be one of"),
    ({"password_digest": DIGESTS["bcrypt"]("x")}, 400, "body: 'password_algorithm' is a dependency of 'password_digest'"),
    ({"password_algorithm": "bcrypt"}, 400, "body: 'password_digest' is a dependency of 'password_algorithm'"),
    ({"password_digest": DIGESTS["bcrypt"]("x"), "password_algorithm": "bcrypt", "password": "x"}, 400,
     "body: give either password or password_digest, not both"),
])
async def test_a_digest_that_cannot_be_imported_is_refused_naming_the_field(api, body, status, words):
    reply = await api.admin("POST", "/api/users", {"username": unique("kim"), **body})
    assert reply.status == status and reply.problem["detail"].startswith(words), reply
    assert body.get("password_digest", "\0") not in reply.problem["detail"]


def argon2_shaped(m: int, t: int, p: int) -> str:
    """A well-formed argon2id digest with these parameters (random salt and hash: it matches
    no password, and making a real one would cost what the test shows is refused)."""
    b64 = lambda raw: base64.b64encode(raw).decode().rstrip("=")  # noqa: E731
    return f"$argon2id$v=19$m={m},t={t},p={p}${b64(uuid.uuid4().bytes)}${b64(uuid.uuid4().bytes * 2)}"


# Issue 21, defect 11: at the default profile (argon2id m=64 MiB, t=3, p=4) an imported argon2
# digest may cost 4 x that: m <= 256 MiB, m x t <= 786,432 KiB-passes, p <= 16.
@pytest.mark.parametrize("m, t, p, limit, words", [
    (4194304, 100, 999, "argon2_memory", "argon2 m=4194304 KiB is beyond this service's limit of m <= 262144 KiB"),
    (65536, 13, 4, "argon2_time", "argon2 m x t = 851968 KiB-passes is beyond this service's limit of m x t <= 786432"),
    (65536, 3, 17, "argon2_lanes", "argon2 p=17 is beyond this service's limit of p <= 16"),
])
async def test_an_argon2_digest_costing_more_than_4_times_the_services_own_hashes_is_refused(api, m, t, p, limit,
                                                                                            words):
    digest = argon2_shaped(m, t, p)
    reply = await api.admin("POST", "/api/users", {"username": unique("arg"), "password_digest": digest,
                                                    "password_algorithm": "argon2"})
    assert reply.status == 422 and reply.headers["Content-Type"].startswith("application/problem+json"), reply
    assert reply.problem["detail"].startswith(f"body.password_digest: {words}"), reply
    assert reply.problem["limit"] == limit and digest not in reply.problem["detail"]
    # Right at the limits is accepted: 4 x the default profile in each of memory, time and lanes.
    at_limit = await api.admin("POST", "/api/users", {"username": unique("arg"), "password_algorithm": "argon2",
                                                       "password_digest": argon2_shaped(262144, 3, 16)})
    assert at_limit.status == 201, at_limit


async def test_a_stored_argon2_digest_beyond_the_limit_is_refused_at_sign_in_without_hashing(api, run_database):
    """A digest stored before the bound existed (or written behind the service's back) is
    refused before any hashing: 422 naming the limit, no attempt counted, quickly."""
    user = await api.new_user(unique("old"))
    conn = await run_database.get()
    await conn.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user["id"], argon2_shaped(307200, 1, 1))
    flow = await api.start()
    started = asyncio.get_running_loop().time()
    refused = await flow.send("submit_password", username=user["username"], password=PASSWORD)
    took = asyncio.get_running_loop().time() - started
    assert refused.status == 422 and refused.problem["type"] == "urn:mfa-flow:problem:password-digest-too-costly"
    assert refused.problem["limit"] == "argon2_memory" and "262144 KiB" in refused.problem["detail"]
    assert took < 0.25, f"answered in {took:.3f} s: no argon2 ran"
    assert (await flow.read())["attempts_left"] == 5


# --- MFA_FLOW_PASSWORD_HASH ---------------------------------------------------------------------


async def test_hashes_made_at_another_profile_are_rehashed_at_the_next_sign_in(api, start_server, http, run_database):
    user = await api.new_user(unique("lee"))  # hashed at the default profile
    assert extract_parameters((await stored_password(run_database, user["id"]))[0]).memory_cost == 65536

    owasp = Api((await start_server.started(MFA_FLOW_PASSWORD_HASH="owasp")).base_url, http)
    await signs_in(owasp, user["username"])
    rehashed = (await stored_password(run_database, user["id"]))[0]
    params = extract_parameters(rehashed)
    assert (params.type, params.time_cost, params.memory_cost, params.parallelism) == (Type.ID, 2, 19456, 1)
    await signs_in(owasp, user["username"])
    assert (await stored_password(run_database, user["id"]))[0] == rehashed, "at the profile: left alone"
    created = await owasp.new_user(unique("max"))
    assert extract_parameters((await stored_password(run_database, created["id"]))[0]).memory_cost == 19456

    explicit = Api((await start_server.started(MFA_FLOW_PASSWORD_HASH="argon2id:m=12288,t=4,p=2")).base_url, http)
    await signs_in(explicit, user["username"])
    params = extract_parameters((await stored_password(run_database, user["id"]))[0])
    assert (params.type, params.time_cost, params.memory_cost, params.parallelism) == (Type.ID, 4, 12288, 2)
    argon2i = Api((await start_server.started(MFA_FLOW_PASSWORD_HASH="argon2i:m=12288,t=4,p=2")).base_url, http)
    await signs_in(argon2i, user["username"])  # the same cost, the variant an imported system checks
    params = extract_parameters((await stored_password(run_database, user["id"]))[0])
    assert (params.type, params.time_cost, params.memory_cost, params.parallelism) == (Type.I, 4, 12288, 2)
    await signs_in(api, user["username"])  # and back to the default server's profile
    assert extract_parameters((await stored_password(run_database, user["id"]))[0]).memory_cost == 65536


async def test_the_server_refuses_to_start_with_a_profile_it_cannot_use(start_server):
    with pytest.raises(RuntimeError) as refused:
        await start_server.started(MFA_FLOW_PASSWORD_HASH="argon2id:m=1024,t=1,p=1")
    assert "MFA_FLOW_PASSWORD_HASH 'argon2id:m=1024,t=1,p=1': m x t must be at least 35840" in str(refused.value)
