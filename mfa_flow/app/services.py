"""Every service of one process, as the composition root (``bootstrap.py``) built them: what
``serve``, ``worker`` and the CLI's commands are handed."""

from __future__ import annotations

from dataclasses import dataclass

from ..crypto import SecretBox
from ..factors.registry import Registry
from ..keyring import Keyring
from ..settings import Settings
from ..store import Database
from .audit import AuditService
from .audit_keeper import AuditKeeper
from .flows import FlowService
from .limits import AbuseLimits
from .management import Management
from .oidc import OidcService
from .webhooks import WebhookService


@dataclass
class Services:
    settings: Settings
    db: Database
    box: SecretBox
    registry: Registry
    keyring: Keyring
    flows: FlowService
    management: Management
    webhooks: WebhookService
    audit: AuditService
    limits: AbuseLimits
    audit_keeper: AuditKeeper
    oidc: OidcService

    async def ensure_signing_key(self) -> None:
        """Signing keys from the start, so the JWKS is never empty. Unsealing them also proves
        MFA_FLOW_SECRET_KEY is the key this database's secrets were sealed with: better to refuse
        to start than to fail every sign-in at its last step."""
        async with self.db.unit_of_work() as uow:
            try:
                await self.keyring.ensure_keys(uow)
            except RuntimeError as exc:
                raise SystemExit(
                    f"{exc}. Start every process of one installation with the same MFA_FLOW_SECRET_KEY."
                ) from None
            await uow.commit()

    async def close(self) -> None:
        self.flows.hashing.close()
        await self.db.close()
