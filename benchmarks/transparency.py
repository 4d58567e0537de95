"""What the transparency log costs, with a large log stored (1,000,000 rows by default).

Makes a scratch database on DATABASE_URL's server, fills it with valid flows (COPY, as
benchmarks/audit_verify.py does), then measures in the same run:

- building the Merkle tree over every row already stored (what the first checkpoint round
  after the upgrade does), and extending it by one batch of new rows;
- signing a tree head (root from the stored subtrees, Ed25519, the insert);
- an inclusion proof (one query) and its size; a consistency proof; verifying each (pure);
- the added cost per transition: real transitions (FlowService.apply, 8 workers) while the
  checkpoint maker runs beside them, without the tree (baseline) and with it, alternated in
  rounds in the same run. The transition's own transaction is the same in both; what the
  tree adds is the checkpoint maker's extra work competing for the same two cores.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python benchmarks/transparency.py [--rows 1000000] [--transitions 4000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Awaitable, Callable

from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.audit_verify import fill, scratch_database  # noqa: E402
from mfa_flow import bootstrap, logs  # noqa: E402
from mfa_flow.app import transparency  # noqa: E402
from mfa_flow.app.audit_checkpoints import make_checkpoints  # noqa: E402
from mfa_flow.app.flows import FlowService  # noqa: E402
from mfa_flow.audit import merkle, signed_note  # noqa: E402
from mfa_flow.domain.access import ANYONE, SYSTEM  # noqa: E402
from mfa_flow.keyring import Keyring  # noqa: E402
from mfa_flow.settings import Settings  # noqa: E402
from mfa_flow.store import Database  # noqa: E402

WORKERS = 8
ORIGIN = "mfa-flow.bench/audit"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def timings(samples: list[float]) -> str:
    samples = sorted(samples)
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return f"median {ms(statistics.median(samples))}, p99 {ms(p99)} ({len(samples)} samples)"


async def wait_until_settled(db: Database) -> None:
    """Rows join the tree once no older transaction runs anywhere on the PostgreSQL server
    (the feed's horizon); on a shared server that may take a moment."""
    while True:
        async with db.unit_of_work() as uow:
            if await uow.connection.fetchval(
                "SELECT coalesce(max(xid) < pg_snapshot_xmin(pg_current_snapshot()), true) FROM transitions"
            ):
                return
        await asyncio.sleep(0.2)


async def transitions_per_second(service: FlowService, flow_ids: list[str]) -> float:
    queue = list(flow_ids)
    started = time.perf_counter()

    async def worker() -> None:
        while queue:
            await service.apply(queue.pop(), {"type": "cancel"}, SYSTEM)

    await asyncio.gather(*(worker() for _ in range(WORKERS)))
    return len(flow_ids) / (time.perf_counter() - started)


async def with_checkpointer(work: Callable[[], Awaitable[float]], checkpoint: Callable[[], Awaitable[object]]) -> float:
    """Run ``work`` while the checkpoint maker runs beside it every 5 s, as in serve."""
    stop = asyncio.Event()

    async def loop() -> None:
        while not stop.is_set():
            await checkpoint()
            try:
                await asyncio.wait_for(stop.wait(), 5.0)
            except TimeoutError:
                pass

    maker = asyncio.create_task(loop())
    try:
        return await work()
    finally:
        stop.set()
        await maker


async def main(rows_wanted: int, transitions: int) -> None:
    logs.configure(stream=open(os.devnull, "w"))  # noqa: ASYNC230 - once, at start
    async with scratch_database() as url:
        started = time.perf_counter()
        await fill(url, rows_wanted)
        print(f"log: {rows_wanted:,} rows written with COPY in {time.perf_counter() - started:.1f} s", flush=True)
        db = await Database.connect(url, min_size=WORKERS, max_size=WORKERS + 2)
        settings = Settings(database_url=url, data_dir=Path("/tmp"), secret_key=Fernet.generate_key().decode())
        services = bootstrap.build(settings, db)
        keyring = services.keyring

        # The tree over every stored row (the first round after an upgrade), in batches of 5,000.
        await wait_until_settled(db)
        started = time.perf_counter()
        async with db.unit_of_work() as uow:
            added = await transparency.extend_tree(uow, batch=5000, max_batches=10**6)
            await uow.commit()
        built = time.perf_counter() - started
        async with db.unit_of_work() as uow:
            nodes = added + await uow.connection.fetchval("SELECT count(*) FROM audit_tree_nodes")
            size_mb = await uow.connection.fetchval(
                "SELECT (pg_total_relation_size('audit_tree_nodes') + pg_total_relation_size('audit_tree_leaves'))"
                " / 1048576.0")
        print(f"tree built over {added:,} stored rows in {built:.1f} s ({added / built:,.0f} rows/s):"
              f" {nodes:,} hashes stored ({nodes / added:.2f} per row: the leaf hash and the nodes above),"
              f" {size_mb:.0f} MB with the cursor index", flush=True)

        # Signing tree heads on a tree of a million leaves.
        key = (await _signing_key(db, keyring)).private.private_key
        sign_samples = []
        for _ in range(50):
            async with db.unit_of_work() as uow:  # not committed: rolled back, the next one signs the same size
                started = time.perf_counter()
                head = await transparency.sign_tree_head(uow, keyring, ORIGIN)
                sign_samples.append(time.perf_counter() - started)
        pure = []
        for _ in range(200):
            started = time.perf_counter()
            signed_note.sign(signed_note.TreeHead(ORIGIN, head.tree_size, head.root).text(), ORIGIN, key)
            pure.append(time.perf_counter() - started)
        print(f"tree head at size {head.tree_size:,}: signing with the root from stored subtrees {timings(sign_samples)};"
              f" the Ed25519 note alone {timings(pure)}")
        async with db.unit_of_work() as uow:
            head = await transparency.sign_tree_head(uow, keyring, ORIGIN)
            await uow.commit()

        # Inclusion proofs for random rows at the signed size.
        async with db.unit_of_work() as uow:
            picks = await uow.connection.fetch(
                "SELECT cursor_xid::text AS x, cursor_id, leaf_index FROM audit_tree_leaves"
                " WHERE leaf_index = ANY($1::bigint[])", random.Random(1).sample(range(head.tree_size), 500))
        proof_samples, check_samples, lengths, wire = [], [], [], []
        for pick in picks:
            async with db.unit_of_work(isolation="repeatable_read", readonly=True) as uow:
                started = time.perf_counter()
                proof = await transparency.inclusion_proof(uow, (int(pick["x"]), pick["cursor_id"]), head.tree_size)
                proof_samples.append(time.perf_counter() - started)
                leaf = bytes.fromhex(await uow.connection.fetchval(
                    "SELECT hash FROM transitions WHERE xid = $1::text::xid8 AND id = $2", pick["x"], pick["cursor_id"]))
            started = time.perf_counter()
            merkle.verify_inclusion(proof.leaf_index, proof.tree_size, merkle.leaf_hash(leaf), proof.hashes, head.root)
            check_samples.append(time.perf_counter() - started)
            lengths.append(len(proof.hashes))
            wire.append(len(json.dumps(proof.as_json())))
        print(f"inclusion proof at size {head.tree_size:,}: {timings(proof_samples)};"
              f" {min(lengths)}-{max(lengths)} hashes ({max(lengths) * 32} bytes raw, about {max(wire)} bytes as JSON);"
              f" verifying it {timings(check_samples)}")

        # Consistency proofs from random older sizes to the signed size.
        rng = random.Random(2)
        consistency, lengths = [], []
        for first in rng.sample(range(1, head.tree_size), 300):
            async with db.unit_of_work(isolation="repeatable_read", readonly=True) as uow:
                started = time.perf_counter()
                hashes = await transparency.consistency_proof(uow, first, head.tree_size)
                consistency.append(time.perf_counter() - started)
                lengths.append(len(hashes))
        print(f"consistency proof to size {head.tree_size:,}: {timings(consistency)}; {min(lengths)}-{max(lengths)} hashes")

        # The added cost per transition: the same workload with the checkpoint maker running
        # beside it, without the tree (origin None) and with it, alternated.
        service = services.flows
        order = [False, True, True, False, False, True, True, False]  # A B B A A B B A: drift cancels out
        per_round = transitions // len(order)
        without: list[float] = []
        with_tree: list[float] = []
        for number, tree in enumerate(order, 1):
            label, origin, results = ("with the tree", ORIGIN, with_tree) if tree else ("without the tree", None, without)
            flow_ids = [(await service.create(None, ANYONE))[0].id for _ in range(per_round)]

            async def checkpoint(origin: str | None = origin) -> object:
                # serve's defaults: a checkpoint (and a tree head) every 1000 rows or 300 s
                return await make_checkpoints(db, keyring, every_rows=1000, every_seconds=300,
                                                       since=None, origin=origin)

            rate = await with_checkpointer(lambda ids=flow_ids: transitions_per_second(service, ids), checkpoint)
            results.append(rate)
            print(f"  round {number} {label}: {rate:,.0f} transitions/s", flush=True)
        base_rate, tree_rate = statistics.median(without), statistics.median(with_tree)
        added = (1 / tree_rate - 1 / base_rate) * 1e6
        print(f"transitions with the checkpoint maker beside them ({WORKERS} workers, {os.cpu_count()} cores,"
              f" {per_round * len(without):,} each): without the tree {base_rate:,.0f}/s ({1e6 / base_rate:.0f} µs each),"
              f" with the tree {tree_rate:,.0f}/s ({1e6 / tree_rate:.0f} µs each): added {added:+.0f} µs"
              f" = {(base_rate / tree_rate - 1) * 100:+.1f} % per transition")

        # Extending the tree by one batch of new rows, at a million leaves.
        flow_ids = [(await service.create(None, ANYONE))[0].id for _ in range(5000)]
        await transitions_per_second(service, flow_ids)
        await wait_until_settled(db)
        async with db.unit_of_work() as uow:
            started = time.perf_counter()
            added = await transparency.extend_tree(uow, batch=5000, max_batches=1)
            extend = time.perf_counter() - started
            await uow.commit()
        print(f"extending the tree by a batch of {added:,} new rows at {head.tree_size:,} leaves: {extend * 1000:.0f} ms"
              f" ({extend / max(added, 1) * 1e6:.0f} µs per row, in the checkpoint maker)")
        await db.close()


async def _signing_key(db: Database, keyring: Keyring):
    async with db.unit_of_work() as uow:
        key = await keyring.signing_key(uow)
        await uow.commit()
    return key


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--transitions", type=int, default=16000)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rows, arguments.transitions))
