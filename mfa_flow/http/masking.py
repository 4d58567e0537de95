"""RFC 6455 §5.1: "The server MUST close the connection upon receiving a frame that is not
masked." aiohttp's frame reader accepts unmasked frames, so every byte a client sends on a
WebSocket passes a small frame-header reader first: a frame without the mask bit fails the
connection with 1002 (protocol error) before aiohttp parses it.

The guard sits between aiohttp's connection and its frame reader, and also sees bytes that
arrived together with the handshake. It reads only frame headers (2 to 14
bytes each) and skips payloads by length: no copy, no unmasking.
"""

from __future__ import annotations

from typing import Any, Callable

from aiohttp import WSCloseCode, web
from aiohttp.http_websocket import WebSocketError

MASK_BIT = 0x80
LENGTH_BITS = 0x7F


class MaskedFramesOnly:
    """Wraps aiohttp's WebSocket frame reader; ``refuse`` is called at the first unmasked frame,
    after which nothing more is read."""

    def __init__(self, reader: Any, refuse: Callable[[], None]):
        self._reader = reader
        self._refuse = refuse
        self._header = bytearray()  # the frame header read so far
        self._payload_left = 0  # bytes of the current frame's payload still to skip
        self._refused = False

    def _header_length(self) -> int:
        """Bytes of the header being read, once its second byte is known."""
        length_code = self._header[1] & LENGTH_BITS
        extended = 2 if length_code == 126 else 8 if length_code == 127 else 0
        return 2 + extended + 4  # only masked frames get this far: the 4-byte masking key

    def _payload_length(self) -> int:
        length_code = self._header[1] & LENGTH_BITS
        if length_code == 126:
            return int.from_bytes(self._header[2:4], "big")
        if length_code == 127:
            return int.from_bytes(self._header[2:10], "big")
        return length_code

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if self._refused:
            return True, b""
        position, size = 0, len(data)
        header_start = 0  # where the header being read began in this chunk (0: in an earlier one)
        while position < size:
            if self._payload_left:
                skipped = min(self._payload_left, size - position)
                self._payload_left -= skipped
                position += skipped
                continue
            if not self._header:
                header_start = position
            self._header.append(data[position])
            position += 1
            if len(self._header) == 2 and not self._header[1] & MASK_BIT:
                # The frames before this one are whole and masked: they are read as usual.
                if header_start:
                    self._reader.feed_data(data[:header_start])
                self._refused = True
                self._refuse()
                return True, b""
            if len(self._header) >= 2 and len(self._header) == self._header_length():
                self._payload_left = self._payload_length()
                self._header.clear()
        fed: tuple[bool, bytes] = self._reader.feed_data(data)
        return fed

    def feed_eof(self) -> None:
        self._reader.feed_eof()


class MaskCheckingWebSocketResponse(web.WebSocketResponse):
    """A ``WebSocketResponse`` that fails the connection (close 1002) at an unmasked frame.

    aiohttp has no setting for this, so the guard is put in front of the frame reader right
    after aiohttp installs it, on the connection's (private) reader slot; bytes that came with
    the handshake are held back until then so that they pass the guard too. A test sends an
    unmasked frame over a raw socket, so an aiohttp upgrade that moved these breaks loudly.
    """

    def _post_start(self, request: web.BaseRequest, protocol: str | None, writer: Any) -> None:
        connection = request.protocol
        early = connection._message_tail  # frames sent together with the handshake
        connection._message_tail = b""
        super()._post_start(request, protocol, writer)
        guard = MaskedFramesOnly(connection._payload_parser, self._refuse_unmasked)
        connection._payload_parser = guard
        if early:
            eof, _ = guard.feed_data(early)
            if eof:
                connection.close()

    def _refuse_unmasked(self) -> None:
        error = WebSocketError(WSCloseCode.PROTOCOL_ERROR, "client frames must be masked (RFC 6455 section 5.1)")
        queue = self._reader  # the frame queue: the next receive() closes with 1002
        assert queue is not None  # made in super()._post_start, before any frame is read
        queue.set_exception(error)
