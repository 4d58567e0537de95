"""Servers that are not quite the PostgreSQL we need, for the start-up failure tests.

``old``: a server that speaks PostgreSQL's wire protocol (v3) and says it is version 9.6 —
what an old PostgreSQL says in its ParameterStatus when a client connects. ``password``: one
that asks for a password and refuses it with SQLSTATE 28P01, as PostgreSQL does. ``http``: a
web server (another protocol altogether) answering the client's first bytes.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from typing import Iterator

SSL_REQUEST = 80877103


def _message(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!I", len(payload) + 4) + payload


def _read_startup(conn: socket.socket) -> bool:
    """Read the client's SSLRequest (answered "no") and its StartupMessage; False if it left."""
    while True:
        head = conn.recv(8, socket.MSG_WAITALL)
        if len(head) < 8:
            return False
        length, code = struct.unpack("!II", head)
        if code == SSL_REQUEST:
            conn.sendall(b"N")
            continue
        conn.recv(length - 8, socket.MSG_WAITALL)
        return True


def _error(code: str, text: str) -> bytes:
    fields = b"".join(kind + value.encode() + b"\0" for kind, value in
                      ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", code), (b"M", text)))
    return _message(b"E", fields + b"\0")


def _serve_one(conn: socket.socket, mode: str) -> None:
    if mode == "http":
        conn.recv(8)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        return
    if not _read_startup(conn):
        return
    if mode == "password":
        conn.sendall(_message(b"R", struct.pack("!I", 3)))  # AuthenticationCleartextPassword
        conn.recv(4096)
        conn.sendall(_error("28P01", 'password authentication failed for user "postgres"'))
        return
    parameters = {"server_version": "9.6.24", "server_encoding": "UTF8", "client_encoding": "UTF8",
                  "DateStyle": "ISO, MDY", "integer_datetimes": "on", "standard_conforming_strings": "on",
                  "TimeZone": "UTC"}
    out = _message(b"R", struct.pack("!I", 0))  # AuthenticationOk
    for name, value in parameters.items():
        out += _message(b"S", name.encode() + b"\0" + value.encode() + b"\0")
    out += _message(b"K", struct.pack("!II", 4242, 1)) + _message(b"Z", b"I")
    conn.sendall(out)
    while conn.recv(4096):  # until the client's Terminate closes it
        pass


@contextlib.contextmanager
def fake_postgres(mode: str) -> Iterator[int]:
    """A server of that ``mode`` on a free local port, for as long as the block runs."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                with contextlib.suppress(OSError):
                    _serve_one(conn, mode)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()
