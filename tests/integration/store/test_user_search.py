"""GET /api/users's queries: a prefix search and keyset pages, each served by an index.

The statements are the repository's own (``list_query``), prepared as asyncpg prepares them
and planned by PostgreSQL over 20,000 users: pages without a search even as the generic plan a
prepared statement may switch to after five runs; searches as the repository plans them
(``SEARCH_PLAN_MODE``: for their values each time)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from mfa_flow.domain.users import UserSearch
from mfa_flow.store.users import SEARCH_PLAN_MODE, UserRepository, list_query

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


def literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


async def explain(conn: asyncpg.Connection, sql: str, args: list, plan_cache_mode: str) -> list[dict]:
    """The plan of ``sql`` as a prepared statement run with ``args`` under ``plan_cache_mode``."""
    name = f"q_{uuid.uuid4().hex[:8]}"
    types = ", ".join(["bigint"] + ["text"] * (len(args) - 1))
    async with conn.transaction():
        await conn.execute(f"SET LOCAL plan_cache_mode = {plan_cache_mode}")
        await conn.execute(f"PREPARE {name}({types}) AS {sql}")
        try:
            raw = await conn.fetchval(f"EXPLAIN (FORMAT JSON) EXECUTE {name}({', '.join(map(literal, args))})")
        finally:
            await conn.execute(f"DEALLOCATE {name}")
    return plan_nodes(json.loads(raw)[0]["Plan"])


def indexes_used(nodes: list[dict]) -> set[str]:
    return {n["Index Name"] for n in nodes if "Index Name" in n}


@pytest.mark.parametrize("after", [None, "User1234"], ids=["first page", "later page"])
async def test_a_search_reads_the_prefix_indexes_and_never_the_whole_table(conn, after):
    sql, args = list_query(after, 51, UserSearch.of("user1234"))
    nodes = await explain(conn, sql, args, SEARCH_PLAN_MODE)
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], nodes
    assert {"users_username_search", "users_email_key"} <= indexes_used(nodes)
    assert [n for n in nodes if n["Node Type"] == "BitmapOr"], "a bitmap of the prefix indexes, not a walk"


async def test_a_phone_search_reads_the_phone_index(conn):
    sql, args = list_query(None, 51, UserSearch.of("+44 20 0001 23"))
    nodes = await explain(conn, sql, args, SEARCH_PLAN_MODE)
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], nodes
    assert "users_phone_key" in indexes_used(nodes)


async def test_a_search_matching_most_users_walks_the_username_index_in_order(conn):
    sql, args = list_query(None, 51, UserSearch.of("u"))
    nodes = await explain(conn, sql, args, SEARCH_PLAN_MODE)
    assert not [n for n in nodes if n["Node Type"] in ("Seq Scan", "Sort")], nodes


@pytest.mark.parametrize("plan_cache_mode", ["force_custom_plan", "force_generic_plan"])
@pytest.mark.parametrize("after", [None, "User1234"], ids=["first page", "later page"])
async def test_pages_without_a_search_walk_the_username_index_even_in_a_generic_plan(conn, plan_cache_mode, after):
    sql, args = list_query(after, 51, None)
    nodes = await explain(conn, sql, args, plan_cache_mode)
    assert not [n for n in nodes if n["Node Type"] in ("Seq Scan", "Sort")], nodes
    # The users in the username index's order; each user's organisation that requires MFA (read
    # with every user) is a lookup of the membership and organisation indexes, never a scan.
    assert indexes_used([n for n in nodes if n.get("Relation Name") == "users"]) == {"users_username_key"}
    assert indexes_used(nodes) - {"users_username_key"} <= {"organization_members_user", "organizations_pkey"}


async def test_a_search_finds_exactly_the_prefix_matches_in_username_order(conn):
    users = UserRepository(conn)
    async with conn.transaction():  # as in the service's unit of work
        found = [u.username for u in await users.page(None, 100, UserSearch.of("USER1234"))]
        by_email = [u.username for u in await users.page(None, 100, UserSearch.of("MAIL1999"))]
        by_phone = [u.username for u in await users.page(None, 100, UserSearch.of("4420 0000 012"))]
        beyond = await users.page("User19999", 100, UserSearch.of("user1999"))
    assert found == sorted(["User1234", *(f"User1234{d}" for d in range(10))])
    assert by_email == ["User1999", *(f"User1999{d}" for d in range(10))]
    assert by_phone == sorted(f"User{i}" for i in range(120, 130))
    assert beyond == []
