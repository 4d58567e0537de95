"""JSON on the hot path (responses, WebSocket and SSE messages, jsonb columns, log lines) with
orjson, several times faster than the standard module; the standard module takes over wherever
orjson refuses what it accepts, so what is written is what the standard module would write
(compact, and non-ASCII characters as themselves: valid JSON either way).

orjson refuses to write integers beyond 64 bits and strings with unpaired surrogates
(``"\\ud800"``). Reading, it takes integers beyond 64 bits as floats: ``loads`` is for what the
service wrote itself (its jsonb columns); request bodies are read with the standard module.
The audit chain's canonical JSON is not made here: ``domain.flow.canonical_json`` keeps its
exact bytes with the standard module.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps_bytes(value: Any, default: Callable[[Any], Any] | None = None) -> bytes:
    """UTF-8 JSON, compact; ``default`` turns what JSON has no type for into something it has."""
    try:
        return orjson.dumps(value, default=default, option=_OPTIONS)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, separators=(",", ":"), default=default).encode()


def dumps(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    return dumps_bytes(value, default).decode()


def loads(text: str | bytes) -> Any:
    """JSON the service wrote (no integer beyond 64 bits), as ``json.loads`` reads it."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def encodable(value: Any) -> bool:
    """False when a string in ``value`` holds an unpaired surrogate (JSON may escape one,
    ``"\\ud800"``, but no UTF-8 consumer can take it)."""
    try:
        orjson.dumps(value, option=_OPTIONS)
        return True
    except (orjson.JSONEncodeError, TypeError):
        pass
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True
