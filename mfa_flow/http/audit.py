"""The audit API: the whole log in its global order, signed checkpoints, the transparency log
(tree head, inclusion and consistency proofs), and the JWKS."""

from __future__ import annotations

import base64
import json

from aiohttp import web

from ..app.audit_feed import transition_json
from ..app.transparency import NotInTree
from ..audit.merkle import ProofError
from ..audit.verify import format_cursor, parse_cursor
from .auth import require_reader
from .keys import AUDIT
from .problems import Problem, invalid
from .validation import query_int

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10000


def _limit(request: web.Request) -> int:
    limit = query_int(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    assert limit is not None  # it has a default
    return limit


async def audit_transitions(request: web.Request) -> web.StreamResponse:
    """NDJSON, one transition per line, after ``after`` in the global order. Only rows below
    the oldest transaction still in flight are handed out, so resuming from the last cursor
    never misses a row that commits later. ``Next-Cursor`` says where to resume."""
    require_reader(request)
    try:
        after = parse_cursor(request.query.get("after", "0"))
    except ValueError as exc:
        raise invalid(str(exc)) from None
    limit = _limit(request)
    rows = await request.app[AUDIT].settled_rows(after, limit)
    body = "".join(json.dumps(transition_json(r), ensure_ascii=False) + "\n" for r in rows)
    next_cursor = rows[-1]["cursor"] if rows else format_cursor(after)
    return web.Response(
        text=body, content_type="application/x-ndjson", headers={"Next-Cursor": next_cursor}
    )


async def audit_checkpoints(request: web.Request) -> web.Response:
    """Signed checkpoints after checkpoint id ``after``, with every public key that may have
    signed one (keys stay here after they leave the JWKS)."""
    require_reader(request)
    after = query_int(request, "after", 0, 0, 10**18 - 1)
    return web.json_response(await request.app[AUDIT].checkpoints(after, _limit(request)))


async def jwks(request: web.Request) -> web.Response:
    return web.json_response(
        await request.app[AUDIT].jwks(),
        content_type="application/jwk-set+json",
        headers={"Cache-Control": "public, max-age=60"},
    )


# --- the transparency log ----------------------------------------------------------------------

MAX_TREE_SIZE = 2**63 - 1


def _not_in_tree(detail: str) -> Problem:
    return Problem(404, "not-found", "Not found", detail)


async def audit_log(request: web.Request) -> web.Response:
    """The log's origin, the verifier key (Go note format) and the latest signed tree head."""
    require_reader(request)
    info = await request.app[AUDIT].log_info()
    if info is None:
        raise _not_in_tree("no tree head has been signed yet (the checkpoint maker signs one on its schedule)")
    return web.json_response(info)


async def audit_inclusion_proof(request: web.Request) -> web.Response:
    """RFC 9162 §2.1.3 audit path of the row at ``cursor`` in the tree of ``tree_size`` leaves."""
    require_reader(request)
    text = request.query.get("cursor")
    if not text:
        raise invalid("cursor is required: the row's cursor, as the feed hands it out (e.g. 7421-1033)")
    try:
        cursor = parse_cursor(text)
    except ValueError as exc:
        raise invalid(str(exc)) from None
    if cursor == (0, 0):
        raise invalid("cursor 0 is the start of the log, not a row")
    size = query_int(request, "tree_size", None, 1, MAX_TREE_SIZE)
    try:
        proof = await request.app[AUDIT].inclusion_proof(cursor, size)
    except ProofError as exc:
        raise invalid(str(exc)) from None
    except NotInTree as exc:
        raise _not_in_tree(str(exc)) from None
    return web.json_response(proof.as_json())


async def audit_consistency_proof(request: web.Request) -> web.Response:
    """RFC 9162 §2.1.4 proof that the tree of ``first`` leaves is a prefix of ``second``."""
    require_reader(request)
    first = query_int(request, "first", None, 0, MAX_TREE_SIZE)
    second = query_int(request, "second", None, 0, MAX_TREE_SIZE)
    if first is None or second is None:
        raise invalid("first and second are required: two tree sizes, first <= second")
    try:
        hashes = await request.app[AUDIT].consistency_proof(first, second)
    except ProofError as exc:
        raise invalid(str(exc)) from None
    return web.json_response(
        {"first": first, "second": second, "hashes": [base64.b64encode(h).decode() for h in hashes]}
    )


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/audit/transitions", audit_transitions),
        web.get("/api/audit/checkpoints", audit_checkpoints),
        web.get("/api/audit/log", audit_log),
        web.get("/api/audit/proof/inclusion", audit_inclusion_proof),
        web.get("/api/audit/proof/consistency", audit_consistency_proof),
        web.get("/.well-known/jwks.json", jwks),
    ]
