"""WebSocket frames built by hand (RFC 6455 §5.2), for tests that speak below any library."""

from __future__ import annotations

import os
import struct

TEXT, CLOSE = 0x1, 0x8


def frame(payload: bytes, opcode: int = TEXT, masked: bool = True) -> bytes:
    """One final frame (RFC 6455 §5.2), masked with a random key or not."""
    head = bytes([0x80 | opcode])
    mask_bit = 0x80 if masked else 0
    if len(payload) < 126:
        head += bytes([mask_bit | len(payload)])
    elif len(payload) < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", len(payload))
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", len(payload))
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
