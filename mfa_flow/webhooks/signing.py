"""Standard Webhooks signatures: ``v1,`` HMAC-SHA256 over ``id.timestamp.body``, with
``whsec_`` secrets; two signatures while a rotated secret overlaps. Pure: no I/O."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from datetime import datetime, timedelta
from typing import Protocol

from ..crypto import SecretBox


class SealedSecrets(Protocol):
    """An endpoint (or a delivery job) with its sealed current and previous secrets."""

    secret_sealed: str
    previous_secret_sealed: str | None
    previous_secret_expires_at: datetime | None


SECRET_PREFIX = "whsec_"
ROTATION_OVERLAP = timedelta(hours=24)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(os.urandom(32)).decode()


def signature(secret: str, message_id: str, timestamp: int, payload: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` keyed with the secret's bytes."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    mac = hmac.new(key, f"{message_id}.{timestamp}.".encode() + payload, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def sign_headers(secrets: list[str], message_id: str, timestamp: int, payload: bytes) -> dict[str, str]:
    """Standard Webhooks headers; one signature per live secret (two while a rotation overlaps)."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, message_id, timestamp, payload) for s in secrets),
        "content-type": "application/json",
    }


def live_secrets(sealed: SealedSecrets, box: SecretBox, now: datetime) -> list[str]:
    """The secrets that sign a message now: the current one, and the previous one for
    ``ROTATION_OVERLAP`` after a rotation."""
    secrets = [box.open(sealed.secret_sealed)]
    previous_until = sealed.previous_secret_expires_at
    if sealed.previous_secret_sealed and previous_until and previous_until > now:
        secrets.append(box.open(sealed.previous_secret_sealed))
    return secrets
