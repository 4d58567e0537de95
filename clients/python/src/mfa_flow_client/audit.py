"""The audit API (admin or auditor key): the whole log as an async iterator, checkpoints, the
transparency log's signed tree head and its RFC 9162 proofs — fetched here, checked with
:mod:`mfa_flow_client.proofs` against a key the auditor pinned — and a sign-in's proof bundle."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, cast

from .errors import NotFound, ProofError
from .models import CheckpointPage, ConsistencyProof, InclusionProof, Transition, TransparencyLog
from .proofs import BUNDLE_FORMAT, TreeHead, open_checkpoint, verify_consistency, verify_inclusion

if TYPE_CHECKING:
    from .client import MfaFlowClient


class Audit:
    def __init__(self, client: MfaFlowClient):
        self.client = client

    async def export(self, *, after: str = "0", page_size: int = 1000, follow: bool = False,
                     poll_seconds: float = 5.0) -> AsyncIterator[Transition]:
        """Every transition in the log's global order after cursor ``after``, page by page. The
        service hands out only rows below the oldest transaction still in flight, so resuming from
        the last row's ``cursor`` never misses one. With ``follow`` it waits for new rows instead
        of ending at the log's current end."""
        cursor = after
        while True:
            _, headers, body = await self.client.response("GET", "/api/audit/transitions",
                                                          params={"after": cursor, "limit": page_size})
            lines = [line for line in body.decode().split("\n") if line]
            for line in lines:
                yield cast(Transition, json.loads(line))
            cursor = headers.get("Next-Cursor", cursor)
            if len(lines) < page_size:
                if not follow:
                    return
                await asyncio.sleep(poll_seconds)

    async def checkpoints(self, *, after: int = 0, limit: int = 1000) -> CheckpointPage:
        return cast(CheckpointPage, await self.client.request("GET", "/api/audit/checkpoints",
                                                              params={"after": after, "limit": limit}))

    async def log(self) -> TransparencyLog:
        """``{"origin", "verifier_key", "checkpoint"}``: the latest signed tree head (NotFound
        before the first one is signed)."""
        return cast(TransparencyLog, await self.client.request("GET", "/api/audit/log"))

    async def inclusion_proof(self, cursor: str, tree_size: int | None = None) -> InclusionProof:
        return cast(InclusionProof, await self.client.request(
            "GET", "/api/audit/proof/inclusion", params={"cursor": cursor, "tree_size": tree_size}))

    async def consistency_proof(self, first: int, second: int) -> ConsistencyProof:
        return cast(ConsistencyProof, await self.client.request(
            "GET", "/api/audit/proof/consistency", params={"first": first, "second": second}))

    async def tree_head(self, pinned_key: str) -> TreeHead:
        """The latest tree head, once its signature by ``pinned_key`` holds."""
        return open_checkpoint((await self.log())["checkpoint"], pinned_key)

    async def check_row(self, row: Transition | dict[str, Any], pinned_key: str) -> TreeHead:
        """Checks that a row (as ``export`` or ``transitions`` hand it out) is in the log the key
        signs: its inclusion proof in the latest signed tree head leads to that head's root."""
        head = await self.tree_head(pinned_key)
        proof = await self.inclusion_proof(row["cursor"], head.size)
        verify_inclusion(proof["leaf_index"], head.size, bytes.fromhex(row["hash"]), proof["hashes"], head.root)
        return head

    async def check_consistency(self, earlier_checkpoint: str, pinned_key: str) -> tuple[TreeHead, TreeHead]:
        """Checks that the log only grew since a tree head kept earlier (a witness's check): both
        heads signed by ``pinned_key``, and the consistency proof between them holds. Returns
        (earlier, latest); the latest is the one to keep next."""
        earlier = open_checkpoint(earlier_checkpoint, pinned_key)
        latest = await self.tree_head(pinned_key)
        proof = await self.consistency_proof(earlier.size, latest.size)
        verify_consistency(earlier.size, latest.size, earlier.root, latest.root, proof["hashes"])
        return earlier, latest

    async def prove(self, flow_id: str) -> dict[str, Any]:
        """A sign-in's proof bundle, as ``mfa-flow audit prove`` writes it: the flow's rows, each
        row's inclusion proof in the latest signed tree head, that head and its verifier key — all
        an auditor needs to check the sign-in offline (``proofs.verify_bundle``). Raises
        ProofError when some row is not in a signed head yet (the service signs one on its
        schedule, or on ``mfa-flow audit checkpoint``)."""
        rows = await self.client.flows.transitions(flow_id)
        if not rows:
            raise ProofError(f"flow {flow_id} has no transitions")
        try:
            log = await self.log()
        except NotFound:
            raise ProofError("no tree head has been signed yet") from None
        head = open_checkpoint(log["checkpoint"], log["verifier_key"])
        entries = []
        for row in rows:
            try:
                proof = await self.inclusion_proof(row["cursor"], head.size)
            except NotFound:
                raise ProofError(f"row {row['cursor']} (seq {row['seq']}) is not in the latest tree head yet") from None
            entries.append({"row": row, "inclusion": proof})
        last = rows[-1]
        return {
            "format": BUNDLE_FORMAT,
            "flow": {"id": flow_id, "state": last["to_state"], "version": last["seq"], "chain_head": last["hash"]},
            "rows": entries,
            "checkpoint": log["checkpoint"],
            "verifier_key": log["verifier_key"],
        }
