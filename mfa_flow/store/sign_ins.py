"""The sign-in history (adaptive MFA's memory of a user): successful sign-ins, where from and
from which device, and the times of recent failures (kept on the user's row)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..domain.adaptive import History, Signals, SignIn, device_digest
from ..domain.users import User

# Failures kept on the user: a week's (failure_burst looks back at most 10,080 minutes), at most 1000.
FAILURES_KEPT = timedelta(days=7)
MAX_FAILURES_KEPT = 1000

_RECORD = (
    "WITH added AS (INSERT INTO sign_ins (user_id, flow_id, at, country, region, city, latitude, longitude, device)"
    " VALUES ($1, $3::uuid, $4, $5, $6, $7, $8, $9, $10))"
    " UPDATE users SET consecutive_failures = 0, locked_until = NULL,"
    " last_used_factor = COALESCE($2, last_used_factor), last_sign_in_at = $4 WHERE id = $1"
)

# What the rules read of the history, in one statement that does the reading in the database:
# each country with the last time it was seen, each device likewise, the newest sign-in with a
# position; with the user's last sign-in time and the failures since $2. A rule needs no more,
# whatever the number of sign-ins kept.
_HISTORY = (
    "SELECT u.last_sign_in_at,"
    " (SELECT count(*) FROM unnest(u.recent_failures) AS f (at) WHERE f.at > $2) AS failures,"
    " s.at, s.country, s.latitude, s.longitude, s.device"
    " FROM users u LEFT JOIN LATERAL ("
    "  SELECT max(at) AS at, country, NULL::float8 AS latitude, NULL::float8 AS longitude, NULL AS device"
    "   FROM sign_ins WHERE user_id = u.id AND at > $3 AND country IS NOT NULL GROUP BY country"
    "  UNION ALL SELECT max(at), NULL, NULL, NULL, device"
    "   FROM sign_ins WHERE user_id = u.id AND at > $3 AND device IS NOT NULL GROUP BY device"
    "  UNION ALL (SELECT at, NULL, latitude, longitude, NULL FROM sign_ins"
    "   WHERE user_id = u.id AND at > $3 AND latitude IS NOT NULL ORDER BY at DESC, id DESC LIMIT 1)"
    " ) s ON true WHERE u.id = $1"
)

# Appended to a failure's UPDATE of the user ($4: now): the week's failures, newest kept.
RECORD_FAILURE = (
    "recent_failures = ARRAY(SELECT f FROM unnest(recent_failures) AS f WHERE f > $4::timestamptz - interval"
    f" '{FAILURES_KEPT.days} days' ORDER BY f DESC LIMIT {MAX_FAILURES_KEPT - 1}) || $4::timestamptz"
)


class SignInRepository:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def record(self, user: User, last_used_factor: str | None, flow_id: str, now: datetime,
                     signals: Signals) -> None:
        """A successful sign-in: its history row, and on the user the reset failure count, the
        last-used factor and the last sign-in's time, in one statement. The caller holds the
        user's row lock."""
        device = device_digest(signals.device_id) if signals.device_id else None
        await self.conn.execute(_RECORD, user.id, last_used_factor, flow_id, now, signals.country, signals.region,
                                signals.city, signals.latitude, signals.longitude, device)
        user.consecutive_failures, user.locked_until = 0, None
        user.last_used_factor = last_used_factor or user.last_used_factor

    async def history(self, user_id: str, now: datetime, failures_since: datetime, days: int) -> History:
        """What the rules read of the user, in one statement (``_HISTORY``): the last sign-in's
        time, the failures since ``failures_since``, the sign-ins of the last ``days``."""
        rows = await self.conn.fetch(_HISTORY, user_id, failures_since, now - timedelta(days=days))
        if not rows:
            return History()
        # As the rules read sign-ins (newest first): one for each country and each device at the
        # last time it was seen, and the newest with a position.
        sign_ins = sorted((SignIn(r["at"], country=r["country"], latitude=r["latitude"], longitude=r["longitude"],
                                  device=r["device"]) for r in rows if r["at"] is not None),
                          key=lambda s: s.at, reverse=True)
        return History(tuple(sign_ins), rows[0]["last_sign_in_at"], rows[0]["failures"])

    async def forget_before(self, before: datetime, batch: int) -> int:
        """Delete up to ``batch`` sign-ins older than ``before``; how many it deleted."""
        status = await self.conn.execute(
            "DELETE FROM sign_ins WHERE id IN (SELECT id FROM sign_ins WHERE at < $1 LIMIT $2)", before, batch)
        return int(status.split()[-1])

    async def page(self, user_id: str, before_id: int | None, limit: int, since: datetime) -> list[dict[str, Any]]:
        """The user's sign-ins since ``since``, newest first, older than the one ``before_id``."""
        rows = await self.conn.fetch(
            "SELECT id, flow_id::text AS flow_id, at, country, region, city, latitude, longitude, device"
            " FROM sign_ins WHERE user_id = $1 AND ($2::bigint IS NULL OR id < $2) AND at > $4"
            " ORDER BY id DESC LIMIT $3", user_id, before_id, limit, since)
        return [dict(r) for r in rows]
