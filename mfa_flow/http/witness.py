"""A witness: follows a log's signed tree heads over HTTP and refuses any that does not extend
the last one it saw.

Each round fetches ``GET /api/audit/log``, checks the head's signature with the pinned verifier
key (``--key``; without one, the key of the first head seen is pinned in the state file, trust
on first use), then asks ``/api/audit/proof/consistency`` for a proof from the size it last saw
and checks it (RFC 9162 §2.1.4). A smaller tree, a different root at the same size, or a proof
that does not hold means the log was rewritten: the witness says so and stops, non-zero. The
state (the last good head) is written atomically after every good round.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import aiohttp

from ..audit import merkle, signed_note
from .problems import HttpError


class WitnessAlarm(HttpError):
    """The log forked, shrank or served something that does not verify; says what."""


@dataclass
class WitnessState:
    verifier_keys: list[str]
    tree_size: int | None = None
    root: bytes | None = None
    checkpoint: str | None = None

    @classmethod
    def load(cls, path: Path, pinned: list[str]) -> "WitnessState":
        if not path.exists():
            return cls(list(pinned))
        document = json.loads(path.read_text())
        root = base64.b64decode(document["root"]) if document.get("root") else None
        keys = list(pinned) or list(document.get("verifier_keys") or [])
        return cls(keys, document.get("tree_size"), root, document.get("checkpoint"))

    def save(self, path: Path) -> None:
        document = {
            "verifier_keys": self.verifier_keys,
            "tree_size": self.tree_size,
            "root": base64.b64encode(self.root).decode() if self.root else None,
            "checkpoint": self.checkpoint,
        }
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(document, indent=2) + "\n")
        os.replace(temporary, path)


def open_head(note: str, keys: list[str]) -> signed_note.TreeHead:
    """The head, if one of the keys signed it."""
    problems = []
    for text in keys:
        try:
            return signed_note.open_checkpoint(note, signed_note.Verifier.parse(text))
        except signed_note.NoteError as exc:
            problems.append(str(exc))
    raise WitnessAlarm(f"the tree head does not verify with the pinned key: {'; '.join(problems)}")


def check_step(state: WitnessState, head: signed_note.TreeHead, proof: list[bytes] | None) -> None:
    """Raise WitnessAlarm unless ``head`` extends the last head the witness saw."""
    if state.tree_size is None or state.root is None:
        return
    if head.size < state.tree_size:
        raise WitnessAlarm(f"the log shrank from {state.tree_size} to {head.size} leaves")
    try:
        merkle.verify_consistency(state.tree_size, head.size, state.root, head.root, proof or [])
    except merkle.ProofError as exc:
        raise WitnessAlarm(f"the log forked between {state.tree_size} and {head.size} leaves: {exc}") from None


async def _get_json(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> Any:
    async with session.get(url, headers=headers) as response:
        body = await response.text()
        if response.status != 200:
            raise ConnectionError(f"GET {url} answered {response.status}: {body[:300]}")
        return json.loads(body)


async def observe(session: aiohttp.ClientSession, base_url: str, api_key: str, state: WitnessState) -> str:
    """One round: fetch, verify and (when it holds) adopt the latest head. Returns a line to print."""
    headers = {"Authorization": f"Bearer {api_key}"}
    log = await _get_json(session, f"{base_url}/api/audit/log", headers)
    note = log.get("checkpoint") if isinstance(log, dict) else None
    if not isinstance(note, str):
        raise WitnessAlarm("the log's answer has no checkpoint")
    first_contact = not state.verifier_keys
    if first_contact:
        served = log.get("verifier_key")
        if not isinstance(served, str):
            raise WitnessAlarm("no verifier key pinned and none served")
        state.verifier_keys = [served]
    head = open_head(note, state.verifier_keys)
    proof: list[bytes] | None = None
    if state.tree_size is not None and state.tree_size < head.size and state.tree_size > 0:
        answer = await _get_json(
            session, f"{base_url}/api/audit/proof/consistency?first={state.tree_size}&second={head.size}", headers
        )
        try:
            proof = [base64.b64decode(h, validate=True) for h in answer["hashes"]]
        except (KeyError, TypeError, binascii.Error, ValueError):
            raise WitnessAlarm("the consistency proof is malformed") from None
    previous = state.tree_size
    check_step(state, head, proof)
    state.tree_size, state.root, state.checkpoint = head.size, head.root, note
    trust = f" (pinned {state.verifier_keys[0]} on first use)" if first_contact else ""
    if previous is None:
        return f"tree head at size {head.size} verified{trust}"
    if previous == head.size:
        return f"tree head at size {head.size}: unchanged"
    return f"tree head at size {head.size} verified and consistent with size {previous}"


async def run(
    base_url: str, api_key: str, state_path: Path, pinned: list[str], once: bool, interval: float,
    say: Callable[[str], None],
) -> int:
    """Follow the log until it misbehaves (exit 1) or, with ``once``, for one round (exit 0)."""
    state = WitnessState.load(state_path, pinned)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while True:
            try:
                line = await observe(session, base_url.rstrip("/"), api_key, state)
            except WitnessAlarm as alarm:
                say(f"ALARM: {alarm}")
                return 1
            except (TimeoutError, aiohttp.ClientError, ConnectionError, json.JSONDecodeError) as exc:
                say(f"cannot reach the log: {exc}")  # not evidence of misbehaviour: try again later
                if once:
                    return 2
            else:
                state.save(state_path)
                say(line)
            if once:
                return 0
            await asyncio.sleep(interval)
