"""The frame-header guard in front of aiohttp's WebSocket reader (RFC 6455 §5.1), fed by hand."""

from __future__ import annotations

import pytest

from mfa_flow.http.masking import MaskedFramesOnly
from tests.support.frames import frame


class Reader:
    """Stands in for aiohttp's frame reader: keeps what it is fed."""

    def __init__(self):
        self.fed = b""

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.fed += data
        return False, b""

    def feed_eof(self) -> None:
        pass


def guarded() -> tuple[MaskedFramesOnly, Reader, list[str]]:
    reader, refusals = Reader(), []
    return MaskedFramesOnly(reader, lambda: refusals.append("refused")), reader, refusals


SIZES = [0, 5, 125, 126, 300, 65535, 65536, 70_000]


@pytest.mark.parametrize("chunk", [1, 3, 7, 1000, 10**6], ids=lambda n: f"chunks of {n}")
def test_masked_frames_of_every_length_pass_whole_however_they_are_cut(chunk):
    guard, reader, refusals = guarded()
    stream = b"".join(frame(b"\x81\xfe" * (n // 2) + b"x" * (n % 2)) for n in SIZES)
    for start in range(0, len(stream), chunk):
        assert guard.feed_data(stream[start:start + chunk]) == (False, b"")
    assert reader.fed == stream and refusals == []


@pytest.mark.parametrize("chunk", [1, 2, 5, 10**6], ids=lambda n: f"chunks of {n}")
@pytest.mark.parametrize("size", [0, 5, 300, 70_000])
def test_the_first_unmasked_frame_is_refused_and_nothing_of_it_is_read(chunk, size):
    guard, reader, refusals = guarded()
    before = frame(b"hello") + frame(b"y" * 300)
    stream = before + frame(b"z" * size, masked=False) + frame(b"after")
    ends = []
    for start in range(0, len(stream), chunk):
        ends.append(guard.feed_data(stream[start:start + chunk]))
    assert refusals == ["refused"]
    # The frames before it are read whole; of the refused frame at most its first byte (which
    # a chunk may end after: the mask bit is in the second).
    assert reader.fed in (before, before + stream[len(before):len(before) + 1])
    refused_at = ends.index((True, b""))
    assert ends[refused_at:] == [(True, b"")] * (len(ends) - refused_at)  # and nothing after it
