"""The first connection of a command, and the one line that says why it cannot be had.

Every foreseeable reason the database cannot be used (it is not there, refuses us, is not
PostgreSQL or is too old) becomes a ``StartupFailure`` (``startup.py``) naming the setting or
step that fixes it.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import asyncpg

from ..startup import StartupFailure

# The oldest PostgreSQL the migrations run on (xid8 and pg_current_xact_id() came with 13).
MIN_POSTGRES = 13
# How long the first connection may take before we say the server does not answer.
CONNECT_SECONDS = 10.0


def where(url: str) -> str:
    """Where a database URL points (host:port, or the socket folder), without its password."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "DATABASE_URL"
    query = parse_qs(parts.query)
    host = query.get("host", [""])[0] or parts.netloc.rpartition("@")[2] or "localhost"
    if host.startswith("/"):
        return f"the socket in {host}"
    return host if ":" in host.rsplit("]", 1)[-1] else f"{host}:{query.get('port', ['5432'])[0]}"


def _user(url: str) -> str:
    try:
        userinfo = urlsplit(url).netloc.rpartition("@")[0]
    except ValueError:
        return "?"
    return unquote(userinfo.partition(":")[0]) or "(your login name)"


def _database(url: str) -> str:
    try:
        return unquote(urlsplit(url).path.lstrip("/")) or _user(url)
    except ValueError:
        return "?"


def database_failure(url: str, exc: BaseException) -> StartupFailure | None:
    """The one line for a failure to connect to ``url``, or None when it is not one we know."""
    at = where(url)
    if isinstance(exc, asyncpg.exceptions.ClientConfigurationError) or (
            isinstance(exc, (ValueError, OverflowError)) and not isinstance(exc, asyncpg.PostgresError)):
        return StartupFailure(f"DATABASE_URL cannot be used as it is ({exc}): write it as"
                              " postgresql://USER:PASSWORD@HOST:PORT/DATABASE, with a port from 1 to 65535")
    fix_url = "or set DATABASE_URL to a running PostgreSQL (unset, mfa-flow runs an embedded one)"
    if isinstance(exc, socket.gaierror):
        return StartupFailure(f"cannot find the database host of DATABASE_URL ({at}): {exc.strerror or exc};"
                              " check the host name in DATABASE_URL")
    if isinstance(exc, asyncpg.InvalidPasswordError):
        return StartupFailure(f"PostgreSQL at {at} refused the password of user {_user(url)!r}: check the user"
                              " and password in DATABASE_URL (postgresql://USER:PASSWORD@HOST:PORT/DATABASE)")
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return StartupFailure(f"PostgreSQL at {at} has no database {_database(url)!r}: create it (createdb"
                              f" {_database(url)}) or name another in DATABASE_URL")
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        return StartupFailure(f"PostgreSQL at {at} refused user {_user(url)!r} ({exc}): check the user in"
                              " DATABASE_URL, or the server's pg_hba.conf")
    if isinstance(exc, asyncpg.TooManyConnectionsError):
        return StartupFailure(f"PostgreSQL at {at} has no connection to spare ({exc}): raise its max_connections"
                              " or stop other clients")
    if isinstance(exc, asyncpg.CannotConnectNowError):
        return StartupFailure(f"PostgreSQL at {at} is starting or stopping ({exc}): try again in a moment")
    if isinstance(exc, asyncpg.PostgresError):
        return StartupFailure(f"PostgreSQL at {at} refused the connection: {exc}")
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return StartupFailure(f"the database at {at} did not answer within {CONNECT_SECONDS:g} s: check the host"
                              " and port in DATABASE_URL, and that no firewall is in between")
    if isinstance(exc, ConnectionRefusedError) or (isinstance(exc, OSError) and (
            exc.errno == errno.ECONNREFUSED or "Connect call failed" in str(exc))):
        return StartupFailure(f"cannot reach PostgreSQL at {at} (connection refused): start PostgreSQL there, "
                              + fix_url)
    if isinstance(exc, FileNotFoundError):  # a unix socket that is not there
        return StartupFailure(f"cannot reach PostgreSQL at {at} (no such socket): start PostgreSQL there, " + fix_url)
    # PostgreSQL answers a client's first message (an SSLRequest) with one byte, S or N: a
    # server that answers anything else, or hangs up, or garbles the protocol is something else.
    if "rejected SSL upgrade" in str(exc) or isinstance(exc, (
            asyncpg.exceptions.ProtocolError, asyncpg.exceptions.InternalClientError, asyncpg.InterfaceError,
            ConnectionResetError, EOFError)):
        return StartupFailure(f"the server at {at} does not answer as PostgreSQL does ({exc}): DATABASE_URL must"
                              f" point to PostgreSQL {MIN_POSTGRES} or newer (is that the port of another service?)")
    if isinstance(exc, OSError):
        return StartupFailure(f"cannot reach PostgreSQL at {at} ({exc.strerror or exc}): check DATABASE_URL")
    return None


def _check_ports(url: str) -> None:
    """Each host's port in DATABASE_URL (several hosts: ``h1:5432,h2:5433``) is a port number."""
    try:
        netloc = urlsplit(url).netloc.rpartition("@")[2]
    except ValueError:
        return  # asyncpg says what is wrong with it
    for host in netloc.split(","):
        port = host.rpartition("]")[2].lstrip(":") if host.startswith("[") else host.partition(":")[2]
        if port and not (port.isdigit() and 1 <= int(port) <= 65535):
            raise StartupFailure(f"DATABASE_URL cannot be used as it is (port {port!r} of {host.partition(':')[0]!r}):"
                                 " write it as postgresql://USER:PASSWORD@HOST:PORT/DATABASE, with a port from 1 to"
                                 " 65535")


async def connect(url: str, **options: Any) -> asyncpg.Connection:
    """The first connection of a command: one line naming the fix when it cannot be had, and a
    refusal of a PostgreSQL older than the migrations need."""
    _check_ports(url)
    try:
        conn = await asyncpg.connect(url, timeout=CONNECT_SECONDS, **options)
    except Exception as exc:
        failure = database_failure(url, exc)
        if failure is None:
            raise
        raise failure from exc
    version = conn.get_server_version()
    if version.major < MIN_POSTGRES:
        await conn.close()
        raise StartupFailure(f"PostgreSQL at {where(url)} is version {version.major}.{version.minor}; mfa-flow needs"
                             f" {MIN_POSTGRES} or newer: upgrade it, or set DATABASE_URL to a newer server")
    return conn
