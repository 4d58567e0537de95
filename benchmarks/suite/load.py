"""A closed-loop load driver: N clients, each sending its next request once the last one answered,
for a fixed time after a warm-up; it counts what was done and keeps every latency."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile by nearest rank (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))]


@dataclass(frozen=True)
class Run:
    """What a timed run did: ``count`` units of work in ``seconds``, with each one's latency."""

    count: int
    seconds: float
    latencies: list[float]
    requests: int = 0  # every step run, warm-up and tail included (what CPU time is divided by)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies, 50) * 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies, 99) * 1000


async def closed_loop(clients: int, seconds: float, make_client: Callable[[int], Awaitable[Callable[[], Awaitable[int]]]],
                      warmup: float = 0.0) -> Run:
    """Run ``clients`` loops for ``warmup`` + ``seconds``; ``make_client(n)`` prepares client n and
    returns its step, a coroutine function that does one unit of work and returns how many units
    it counts for (a sign-in of three requests is one unit). What ends within the timed window
    (after the warm-up, before the deadline) is counted, whenever it started: with steps of
    seconds (argon2), counting only those that start and end inside would undercount."""
    steps = await asyncio.gather(*(make_client(n) for n in range(clients)))
    start = time.perf_counter() + warmup
    deadline = start + seconds
    latencies: list[float] = []
    count = steps_run = 0

    async def loop(step: Callable[[], Awaitable[int]]) -> None:
        nonlocal count, steps_run
        while True:
            began = time.perf_counter()
            if began >= deadline:
                return
            units = await step()
            steps_run += 1
            ended = time.perf_counter()
            if start <= ended <= deadline:
                count += units
                latencies.append(ended - began)

    await asyncio.gather(*(loop(step) for step in steps))
    return Run(count, seconds, latencies, steps_run)


async def paced(rate: float, seconds: float, steps: list[Callable[[], Awaitable[int]]]) -> Run:
    """An open loop: a request every 1/``rate`` s for ``seconds``, to the steps in turn, however
    long the answers take (a slow answer does not hide the requests that would have queued behind
    it: each latency runs from the moment its request was due). A step takes one request at a time
    (a flow takes its events one by one), so a request may wait for the one before on its step."""
    locks = [asyncio.Lock() for _ in steps]
    latencies: list[float] = []
    count = 0

    async def one(n: int, due: float) -> None:
        nonlocal count
        async with locks[n % len(steps)]:
            count += await steps[n % len(steps)]()
        latencies.append(time.perf_counter() - due)

    start = time.perf_counter()
    total = int(rate * seconds)
    tasks = []
    for n in range(total):
        due = start + n / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(n, due)))
    await asyncio.gather(*tasks)
    return Run(count, time.perf_counter() - start, latencies, total)
