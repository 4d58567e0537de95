"""Authenticator-app codes (pure): RFC 6238, SHA-1, 6 digits, 30 s steps, one step of drift either way."""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from datetime import datetime
from typing import Any

import pyotp
import segno

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1
_CODE = re.compile(f"[0-9]{{{DIGITS}}}")  # ASCII digits: str.isdigit() would take "١٢٣٤٥٦" too
WRONG_CODE = "the code does not match; use the current code from the authenticator app"


def new_secret() -> str:
    """160 random bits, base32 (32 characters), as authenticator apps expect."""
    return pyotp.random_base32(32)


def code_at(secret: str, step: int, digits: int = DIGITS, digest: Any = hashlib.sha1) -> str:
    return pyotp.TOTP(secret, digits=digits, digest=digest, interval=STEP_SECONDS).generate_otp(step)


def matching_step(secret: str, code: str, now: datetime, last_step: int | None = None) -> int | None:
    """The time-step ``code`` belongs to, within the drift window and newer than ``last_step``."""
    code = "".join(code.split())
    if not _CODE.fullmatch(code):
        return None
    current = int(now.timestamp()) // STEP_SECONDS
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(code_at(secret, step), code) and (last_step is None or step > last_step):
            return step
    return None


def otpauth_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(name=account, issuer_name=issuer)


@functools.lru_cache(maxsize=256)
def qr_svg(uri: str) -> str:
    """The QR code of a set-up URI as inline SVG. Drawing one costs milliseconds of CPU on the
    event loop, and a set-up flow is shown again at every read, push and long-poll answer: the
    last few hundred are kept (in memory only, like the open flows they belong to)."""
    return segno.make(uri, error="m").svg_inline(scale=4)
