"""Keys generated into the local data folder when the environment gives none (development).

Kept apart from ``Settings``: reading settings never writes a file; the composition root
asks for these only for the commands that need keys.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Callable

from cryptography.fernet import Fernet


def _generated(data_dir: Path, filename: str, make: Callable[[], str], what: str, warn: bool = False) -> str:
    """Read a key from the data folder, or generate it there and say so once."""
    path = data_dir / filename
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = make()
    path.write_text(value + "\n")
    path.chmod(0o600)
    if warn:
        print(
            f"WARNING: no {what} given; generated one into {path}. Set it in the environment for production"
            " and keep it safe: without it stored secrets cannot be read.",
            file=sys.stderr,
        )
    else:
        print(f"Generated {what} into {path}: {value}", file=sys.stderr)
    return value


def ensure(data_dir: Path) -> dict[str, str]:
    """The admin, auditor and secret keys the environment does not set, from the data folder
    (generated there on first use, and said so)."""
    keys: dict[str, str] = {}
    if not os.environ.get("MFA_FLOW_ADMIN_KEY"):
        keys["admin_key"] = _generated(data_dir, "admin.key", lambda: "adm_" + secrets.token_urlsafe(32),
                                       "an admin key")
    if not os.environ.get("MFA_FLOW_AUDITOR_KEY"):
        keys["auditor_key"] = _generated(data_dir, "auditor.key", lambda: "aud_" + secrets.token_urlsafe(32),
                                         "an auditor key")
    if not os.environ.get("MFA_FLOW_SECRET_KEY"):
        keys["secret_key"] = _generated(
            data_dir,
            "secret.key",
            lambda: Fernet.generate_key().decode(),
            "MFA_FLOW_SECRET_KEY (the key that encrypts secrets at rest)",
            warn=True,
        )
    return keys
