"""The admin's webhooks: registering endpoints (URLs checked at registration, and again by
the worker at every delivery), rotating their secrets, reading and retrying deliveries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Mapping
from urllib.parse import urlsplit

from .. import logs
from ..crypto import SecretBox
from ..domain.errors import NotFound, WebhookUrlRefused
from ..domain.flow import iso
from ..settings import Settings
from ..store import Database, UnitOfWork
from ..store.webhooks import Endpoint
from ..webhooks.addresses import UnsafeUrl, check_url, resolve_checked
from ..webhooks.messages import ALL_EVENTS
from ..webhooks.signing import ROTATION_OVERLAP, new_secret

log = logs.get(__name__)


def endpoint_view(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": list(endpoint.events),
        "enabled": endpoint.enabled,
        "description": endpoint.description,
        "disabled_reason": endpoint.disabled_reason,
        "previous_secret_expires_at": iso(endpoint.previous_secret_expires_at)
        if endpoint.previous_secret_expires_at else None,
        "created_at": iso(endpoint.created_at),
        "updated_at": iso(endpoint.updated_at),
    }


def delivery_view(row: Mapping[str, Any]) -> dict[str, Any]:
    def at(name: str) -> str | None:
        return iso(row[name]) if row[name] else None

    return {
        "id": row["id"],
        "message_id": row["message_id"],
        "type": row["type"],
        "status": row["status"],
        "attempts": row["attempts"],
        "next_attempt_at": at("next_attempt_at") if row["status"] == "pending" else None,
        "last_attempt_at": at("last_attempt_at"),
        "last_status": row["last_status"],
        "last_response": row["last_response"],
        "last_error": row["last_error"],
        "delivered_at": at("delivered_at"),
        "created_at": at("created_at"),
    }


class WebhookService:
    """Registering endpoints (URLs checked at registration, and again by the worker at every
    delivery), rotating their secrets, reading and retrying deliveries."""

    def __init__(self, db: Database, settings: Settings, box: SecretBox) -> None:
        self.db = db
        self.settings = settings
        self.box = box

    async def _checked_url(self, url: str) -> str:
        try:
            await resolve_checked(check_url(url, self.settings.webhook_allow_private), self.settings.webhook_allow_private)
        except UnsafeUrl as exc:
            raise WebhookUrlRefused(f"url: {exc}", field="url") from None
        return url

    async def _endpoint(self, uow: UnitOfWork, endpoint_id: str, lock: bool = False) -> Endpoint:
        endpoint: Endpoint | None = await uow.webhooks.get(endpoint_id, lock=lock)
        if endpoint is None:
            raise NotFound(f"webhook {endpoint_id}")
        return endpoint

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        url = await self._checked_url(body["url"])
        secret = new_secret()
        async with self.db.unit_of_work() as uow:
            endpoint = await uow.webhooks.add(url, _events(body["events"]), body.get("enabled", True),
                                              body.get("description"), self.box.seal(secret), _now())
            await uow.commit()
        log.info("webhook added", kind="admin", webhook_id=endpoint.id, host=_host(url), events=endpoint.events,
                 enabled=endpoint.enabled)
        return {**endpoint_view(endpoint), "secret": secret}

    async def list(self) -> list[dict[str, Any]]:
        async with self.db.unit_of_work() as uow:
            return [endpoint_view(e) for e in await uow.webhooks.all()]

    async def get(self, endpoint_id: str) -> dict[str, Any]:
        async with self.db.unit_of_work() as uow:
            return endpoint_view(await self._endpoint(uow, endpoint_id))

    async def update(self, endpoint_id: str, body: dict[str, Any]) -> dict[str, Any]:
        changes = dict(body)
        if "url" in changes:
            changes["url"] = await self._checked_url(changes["url"])
        if "events" in changes:
            changes["events"] = _events(changes["events"])
        if changes.get("enabled") is True:
            changes["disabled_reason"] = None
        async with self.db.unit_of_work() as uow:
            await self._endpoint(uow, endpoint_id, lock=True)
            endpoint = await uow.webhooks.update(endpoint_id, changes, _now())
            await uow.commit()
        log.info("webhook changed", kind="admin", webhook_id=endpoint_id, fields=sorted(body),
                 host=_host(endpoint.url), enabled=endpoint.enabled)
        return endpoint_view(endpoint)

    async def delete(self, endpoint_id: str) -> None:
        async with self.db.unit_of_work() as uow:
            if not await uow.webhooks.delete(endpoint_id):
                raise NotFound(f"webhook {endpoint_id}")
            await uow.commit()
        log.info("webhook deleted", kind="admin", webhook_id=endpoint_id)

    async def rotate_secret(self, endpoint_id: str) -> dict[str, Any]:
        secret = new_secret()
        now = _now()
        async with self.db.unit_of_work() as uow:
            await self._endpoint(uow, endpoint_id, lock=True)
            endpoint = await uow.webhooks.rotate_secret(endpoint_id, self.box.seal(secret), now + ROTATION_OVERLAP, now)
            await uow.commit()
        log.info("webhook secret rotated", kind="admin", webhook_id=endpoint_id)
        return {**endpoint_view(endpoint), "secret": secret}

    async def deliveries(self, endpoint_id: str, status: str | None, before: int | None, limit: int) -> dict[str, Any]:
        async with self.db.unit_of_work() as uow:
            await self._endpoint(uow, endpoint_id)
            rows = await uow.deliveries.of_endpoint(endpoint_id, status, before, limit)
        cursor = str(rows[-1]["seq"]) if len(rows) == limit else None
        return {"items": [delivery_view(r) for r in rows], "next_cursor": cursor}

    async def retry(self, endpoint_id: str, delivery_id: str) -> dict[str, Any]:
        async with self.db.unit_of_work() as uow:
            await self._endpoint(uow, endpoint_id)
            if await uow.deliveries.get(endpoint_id, delivery_id, lock=True) is None:
                raise NotFound(f"delivery {delivery_id} of webhook {endpoint_id}")
            await uow.deliveries.retry(delivery_id, _now())
            await uow.outbox.wake_worker()
            row = await uow.deliveries.get(endpoint_id, delivery_id)
            await uow.commit()
        assert row is not None  # read above, in this transaction
        log.info("webhook delivery retried", kind="admin", webhook_id=endpoint_id, delivery_id=delivery_id)
        return delivery_view(row)


def _events(events: list[str]) -> list[str]:
    """``*`` stands alone: it already means every event."""
    return [ALL_EVENTS] if ALL_EVENTS in events else list(dict.fromkeys(events))


def _host(url: str) -> str | None:
    """The host of a webhook URL, for the log: its path or query may hold a receiver's token."""
    return urlsplit(url).hostname


def _now() -> datetime:
    return datetime.now(UTC)
