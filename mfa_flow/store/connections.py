"""When the database connection goes away: how to recognise it, and what a request did before.

A request that meets a dead connection before it committed anything may run again on a
fresh one (``http/problems.py`` does that); one that may have committed answers 503. What a
request committed is counted in ``request_writes.py``.
"""

from __future__ import annotations

import asyncio

import asyncpg

from .errors import StoreError

# A request that meets a database without a usable connection never waits long: a new
# connection gets this long to open, and a pooled one this long to come free.
CONNECT_TIMEOUT_SECONDS = 5.0
ACQUIRE_TIMEOUT_SECONDS = 10.0

# What "the database connection went away" looks like through asyncpg: the server ended the
# connection (terminated backend, shutdown, crash), no host could be reached, none of the
# hosts is a primary (``target_session_attrs=read-write`` during a fail-over), or the
# connection turned out to be on a read-only standby.
CONNECTION_LOST: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.ReadOnlySQLTransactionError,
    asyncpg.exceptions.TargetServerAttributeNotMatched,
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
)


class DatabaseUnavailable(StoreError, ConnectionError):
    """No connection could be had: whatever the server said while we connected (it refuses
    connections, has too many, is starting up, is a standby), the database is not there for us."""


def is_connection_lost(exc: BaseException) -> bool:
    if isinstance(exc, asyncpg.exceptions.InternalClientError) and "in progress" in str(exc):
        # A pooled connection whose server ended it while it sat idle: asyncpg's protocol
        # took the server's goodbye as the start of an operation, and refuses the next one.
        return True
    if isinstance(exc, asyncpg.InterfaceError):
        # "connection is closed", "the underlying connection is closed", "pool is closing"
        return "closed" in str(exc) or "closing" in str(exc)
    if isinstance(exc, asyncpg.exceptions.QueryCanceledError):
        return False  # a statement_timeout: the connection is fine
    return isinstance(exc, CONNECTION_LOST)
