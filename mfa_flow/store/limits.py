"""Abuse-limit counters (table ``rate_limit_hits``): one statement counts a hit in every bucket."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True)
class WindowCount:
    """Hits in a bucket's current window (this one included) and in the window before it."""

    bucket: str
    current: int
    previous: int


class RateLimitRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def hit(self, buckets: list[str], windows: list[datetime], previous: list[datetime]) -> list[WindowCount]:
        """Count one hit in each bucket's window ``windows[i]``; return the counts, with the
        bucket's previous window ``previous[i]`` (read from the snapshot, which the upsert
        does not touch). Concurrent hits on one bucket queue on its row: none is lost."""
        rows = await self.conn.fetch(
            """
            WITH wanted AS (
                SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS w(bucket, at, before)
            ), counted AS (
                INSERT INTO rate_limit_hits AS r (bucket, window_start, hits)
                SELECT bucket, at, 1 FROM wanted
                ON CONFLICT (bucket, window_start) DO UPDATE SET hits = r.hits + 1
                RETURNING bucket, hits
            )
            SELECT c.bucket, c.hits AS current, coalesce(p.hits, 0) AS previous
            FROM counted c JOIN wanted w USING (bucket)
            LEFT JOIN rate_limit_hits p ON p.bucket = w.bucket AND p.window_start = w.before
            """,
            buckets,
            windows,
            previous,
        )
        return [WindowCount(r["bucket"], r["current"], r["previous"]) for r in rows]

    async def purge(self, before: datetime) -> int:
        """Forget windows that no estimate reads any more."""
        status: str = await self.conn.execute("DELETE FROM rate_limit_hits WHERE window_start < $1", before)
        return int(status.split()[-1])
