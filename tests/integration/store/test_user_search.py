"""GET /api/users's queries: a prefix search and keyset pages, each served by an index.

The statements are the repository's own (``list_query``), planned by PostgreSQL over 20,000
users both as a custom plan (the parameters' values known) and as the generic plan a prepared
statement may switch to after a few runs (values unknown)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import asyncpg
import pytest

from mfa_flow.domain.users import UserSearch
from mfa_flow.store.users import UserRepository, list_query

USERS = 20_000


@pytest.fixture
async def conn(fresh_database: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(fresh_database)
    await conn.execute(
        "INSERT INTO users (id, username, email, phone)"
        " SELECT 'u' || i, 'User' || i, 'mail' || i || '@Example.com', '+4420' || lpad(i::text, 8, '0')"
        f" FROM generate_series(1, {USERS}) AS i"
    )
    await conn.execute("ANALYZE users")
    yield conn
    await conn.close()


def plan_nodes(plan: dict) -> list[dict]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes += plan_nodes(child)
    return nodes


async def explain(conn: asyncpg.Connection, sql: str, args: list, generic: bool) -> list[dict]:
    await conn.execute(f"SET plan_cache_mode = {'force_generic_plan' if generic else 'auto'}")
    try:
        raw = await conn.fetchval("EXPLAIN (FORMAT JSON) " + sql, *args)
    finally:
        await conn.execute("RESET plan_cache_mode")
    return plan_nodes(json.loads(raw)[0]["Plan"])


def indexes_used(nodes: list[dict]) -> set[str]:
    return {n["Index Name"] for n in nodes if "Index Name" in n}


@pytest.mark.parametrize("generic", [False, True], ids=["custom plan", "generic plan"])
@pytest.mark.parametrize("after", [None, "User1234"], ids=["first page", "later page"])
async def test_a_search_reads_the_three_prefix_indexes_and_never_the_whole_table(conn, generic, after):
    sql, args = list_query(after, 51, UserSearch.of("user1234"))
    nodes = await explain(conn, sql, args, generic)
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], nodes
    assert {"users_username_search", "users_email_key"} <= indexes_used(nodes)


@pytest.mark.parametrize("generic", [False, True], ids=["custom plan", "generic plan"])
async def test_a_phone_search_reads_the_phone_index(conn, generic):
    sql, args = list_query(None, 51, UserSearch.of("+44 20 0001 23"))
    nodes = await explain(conn, sql, args, generic)
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], nodes
    assert "users_phone_key" in indexes_used(nodes)


@pytest.mark.parametrize("generic", [False, True], ids=["custom plan", "generic plan"])
@pytest.mark.parametrize("after", [None, "User1234"], ids=["first page", "later page"])
async def test_pages_without_a_search_walk_the_username_index(conn, generic, after):
    sql, args = list_query(after, 51, None)
    nodes = await explain(conn, sql, args, generic)
    assert not [n for n in nodes if n["Node Type"] in ("Seq Scan", "Sort")], nodes
    assert indexes_used(nodes) == {"users_username_key"}


async def test_a_search_finds_exactly_the_prefix_matches_in_username_order(conn):
    users = UserRepository(conn)
    found = [u.username for u in await users.page(None, 100, UserSearch.of("USER1234"))]
    assert found == sorted(["User1234", *(f"User1234{d}" for d in range(10))])
    by_email = [u.username for u in await users.page(None, 100, UserSearch.of("MAIL1999"))]
    assert by_email == ["User1999", *(f"User1999{d}" for d in range(10))]
    by_phone = [u.username for u in await users.page(None, 100, UserSearch.of("4420 0000 012"))]
    assert by_phone == sorted(f"User{i}" for i in range(120, 130))
    assert await users.page("User19999", 100, UserSearch.of("user1999")) == []
