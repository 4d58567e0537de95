"""The sign-in history as people read it: ``GET /api/users/{id}/sign-ins`` (admin) and an
account flow's ``challenge.recent_sign_ins``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ..domain.errors import InvalidInput, NotFound
from ..domain.flow import iso
from ..settings import Settings
from ..store import Database, UnitOfWork

RECENT = 5  # sign-ins an account flow shows


def sign_in_view(row: dict[str, Any]) -> dict[str, Any]:
    return {"at": iso(row["at"]), "flow_id": row["flow_id"], "country": row["country"], "region": row["region"],
            "city": row["city"], "latitude": row["latitude"], "longitude": row["longitude"], "device": row["device"]}


async def recent(uow: UnitOfWork, settings: Settings, user_id: str, now: datetime) -> list[dict[str, Any]]:
    """The user's newest sign-ins, for the person themself: where and when, not the position."""
    since = now - timedelta(days=settings.sign_in_history_days)
    rows = await uow.sign_ins.page(user_id, None, RECENT, since)
    return [{"at": iso(r["at"]), "country": r["country"], "region": r["region"], "city": r["city"],
             "device": r["device"]} for r in rows]


class SignInHistory:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    async def page(self, user_id: str, after: str | None, limit: int) -> dict[str, Any]:
        """A page of the user's sign-ins, newest first, and the cursor of the next (None at the end)."""
        before = None
        if after is not None:
            if not (after.isascii() and after.isdigit() and 0 < len(after) <= 18):
                raise InvalidInput("after must be the cursor of a page of sign-ins (the previous page's next)",
                                   field="after")
            before = int(after)
        since = datetime.now(UTC) - timedelta(days=self.settings.sign_in_history_days)
        async with self.db.unit_of_work(readonly=True) as uow:
            if await uow.users.get(user_id) is None:
                raise NotFound(f"user {user_id}")
            rows = await uow.sign_ins.page(user_id, before, limit + 1, since)
        more = len(rows) > limit
        rows = rows[:limit]
        return {"items": [sign_in_view(r) for r in rows], "next": str(rows[-1]["id"]) if more else None}
