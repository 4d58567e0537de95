"""Start-up failures in one line: what went wrong, and which setting or step fixes it.

Every foreseeable reason a command cannot start (the database is not there, refuses us, is not
PostgreSQL or is too old; the port is taken; the data folder cannot be used) becomes a
``StartupFailure``: a ``SystemExit`` whose message is that one line, so that whatever runs the
command sees the line on stderr and a non-zero exit, never a traceback. ``mfa-flow --debug``
prints the traceback of the cause as well (``cli.main``).

Bad setting values are refused the same way where they are read (``settings.py``); the
database's own failures to connect are worded in ``store/first_connection.py``.
"""

from __future__ import annotations

import contextlib
import errno
import socket
from pathlib import Path
from typing import Iterator


class StartupFailure(SystemExit):
    """A command cannot start; the message is one line that names the fix."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@contextlib.contextmanager
def data_folder(path: Path) -> Iterator[None]:
    """Files read or written under the data folder: a folder that cannot be used is one line."""
    try:
        yield
    except (NotADirectoryError, FileExistsError) as exc:
        raise StartupFailure(
            f"cannot use the data folder {path} (MFA_FLOW_DATA_DIR): a file stands where a folder should be"
            f" ({exc.filename}); set MFA_FLOW_DATA_DIR to a folder (it is created when missing)"
        ) from exc
    except OSError as exc:
        raise StartupFailure(
            f"cannot use the data folder {path} (MFA_FLOW_DATA_DIR): {exc.strerror or exc}"
            + (f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else "")
            + "; give this user read and write access to it, or set MFA_FLOW_DATA_DIR to a folder it can use"
        ) from exc


def bind_failure(host: str, port: int, exc: OSError) -> StartupFailure | None:
    """The one line for a listening socket that cannot be had, or None."""
    if exc.errno == errno.EADDRINUSE:
        return StartupFailure(f"port {port} on {host} is already in use: stop what listens there, or choose"
                              " another port with --port (or MFA_FLOW_PORT)")
    if exc.errno == errno.EACCES:
        return StartupFailure(f"not allowed to listen on port {port}: choose a port above 1023 with --port (or"
                              " MFA_FLOW_PORT)")
    if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
        return StartupFailure(f"cannot listen on {host!r}: no such address on this machine; set --host (or"
                              " MFA_FLOW_HOST) to one of its addresses, such as 127.0.0.1 or 0.0.0.0")
    return None
