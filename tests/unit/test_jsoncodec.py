"""JSON on the hot path is orjson's, with the standard module's answers wherever orjson refuses.
(Request bodies are read by the standard module: orjson reads integers beyond 64 bits as floats.)"""

from __future__ import annotations

import json

import pytest

from mfa_flow import jsoncodec


@pytest.mark.parametrize("text", [
    '{"a": [1, 2.5, "é", null, true]}',
    '{"odd": NaN}',
    '{"lone": "\\ud800"}',  # an unpaired surrogate escape
    '{"dup": 1, "dup": 2}',
])
def test_loads_reads_stored_json_as_the_standard_module_does(text):
    assert repr(jsoncodec.loads(text)) == repr(json.loads(text))
    assert repr(jsoncodec.loads(text.encode())) == repr(json.loads(text.encode()))


@pytest.mark.parametrize("text", ["{", '{"a": 1,}', "[" * 100_000])
def test_loads_refuses_what_the_standard_module_refuses(text):
    with pytest.raises((ValueError, RecursionError)):
        json.loads(text)
    with pytest.raises((ValueError, RecursionError)):
        jsoncodec.loads(text)


def test_dumps_is_compact_utf8_and_takes_what_orjson_refuses():
    assert jsoncodec.dumps({"a": "é", 1: [None]}) == '{"a":"é","1":[null]}'
    assert json.loads(jsoncodec.dumps({"lone": "\ud800", "big": 2**70})) == {"lone": "\ud800", "big": 2**70}
    assert jsoncodec.dumps({"when": object()}, default=lambda o: "object") == '{"when":"object"}'


def test_encodable_finds_unpaired_surrogates_only():
    assert jsoncodec.encodable({"a": ["é", 2**70]})
    assert not jsoncodec.encodable({"a": ["\ud800"]})
