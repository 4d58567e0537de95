"""The composition root: settings, keyring, factor registry and services, built once.

``serve``, ``worker`` and every CLI command get their parts here, so each part is made in one
place and the others receive it (nothing below builds its own dependencies).
"""

from __future__ import annotations

from typing import Any

from . import local_keys, startup
from .app import handlers
from .app.audit import AuditService
from .app.audit_keeper import AuditKeeper
from .app.codes import CodeDeliveries
from .app.flows import FlowService
from .app.limits import AbuseLimits
from .app.management import Management
from .app.oidc import OidcService
from .app.outcomes import Outcomes
from .app.pipeline import Pipeline
from .app.services import Services
from .app.sign_ins import SignInHistory
from .app.signals import SignalSources
from .app.webhooks import WebhookService
from .crypto import SecretBox
from .factors.registry import Registry, default
from .keyring import Keyring
from .passwords import HashingPool
from .settings import Settings, data_dir_from_env
from .store import Database
from .store.migrate import migrate


def load_settings(keys: bool = True, **overrides: Any) -> Settings:
    """The process's settings: the environment, generated local keys (when ``keys`` and the
    environment gives none), then the command line's ``overrides``."""
    data_dir = data_dir_from_env()
    with startup.data_folder(data_dir):
        generated = local_keys.ensure(data_dir) if keys else {}
    return Settings.from_env(keys=generated, **overrides)


def database_url(settings: Settings) -> str:
    """DATABASE_URL, or an embedded PostgreSQL under the data folder."""
    if settings.database_url:
        return settings.database_url
    from .store.db import embedded_url  # only without DATABASE_URL: it starts pgserver

    with startup.data_folder(settings.data_dir):
        return embedded_url(settings.data_dir)


def registry() -> Registry:
    return default()


# ``serve``'s pool when MFA_FLOW_DB_POOL does not size it: requests hold a connection only for
# their statements (argon2, SMTP and webhooks run with none held), so a few go a long way.
SERVE_POOL = 10


async def start(settings: Settings, url: str, min_size: int = 2, max_size: int | None = None) -> Services:
    """Migrate the database, connect, and build every service once. The pool holds at most
    ``max_size`` connections (default: ``MFA_FLOW_DB_POOL``, else ``SERVE_POOL``)."""
    await migrate(url)
    max_size = max_size or settings.db_pool or SERVE_POOL
    db = await Database.connect(url, min_size=min(min_size, max_size), max_size=max_size)
    return build(settings, db)


def build(settings: Settings, db: Database) -> Services:
    """Every service on a connected database (for ``start``, and for benchmarks and tests in process)."""
    box = SecretBox(settings.secret_key)
    factors = registry()
    keyring = Keyring(settings, box)
    limits = AbuseLimits.from_settings(db, settings)
    flows = flow_service(db, settings, box, factors, keyring, limits)
    return Services(
        settings=settings,
        db=db,
        box=box,
        registry=factors,
        keyring=keyring,
        flows=flows,
        management=Management(db, settings, box, factors, flows.hashing),
        webhooks=WebhookService(db, settings, box),
        audit=AuditService(db, keyring),
        limits=limits,
        audit_keeper=AuditKeeper(db, keyring, settings),
        oidc=OidcService(db, settings, flows, keyring),
    )


def flow_service(db: Database, settings: Settings, box: SecretBox, factors: Registry, keyring: Keyring,
                 limits: AbuseLimits) -> FlowService:
    """The sign-in flows' use case and every part of it: ``Outcomes`` (what an outcome writes
    beyond the flow: users, results and their tokens, devices), the handler table, the
    pipeline that runs them, the hashing pool argon2 runs on, the code deliveries, the
    adaptive signals' sources and the sign-in history."""
    outcomes = Outcomes(settings, factors, keyring)
    pipeline = Pipeline(db, settings, box, factors, handlers.table(factors, outcomes), limits)
    return FlowService(
        db, settings, box, factors, keyring,
        outcomes=outcomes,
        hashing=HashingPool(settings.password_hash, settings.hash_queue),
        pipeline=pipeline,
        codes=CodeDeliveries(db, settings, box, pipeline),
        signals=SignalSources(settings),
        history=SignInHistory(db, settings),
    )


async def run_worker(settings: Settings, url: str, metrics_port: int | None) -> None:
    from .http.courier import Courier, MetricsServer
    from .worker import Worker

    # A connection per courier (each holds one only to claim and to record) and two for the sweeps.
    services = await start(settings, url, min_size=2, max_size=settings.db_pool or settings.webhook_concurrency + 2)
    try:
        courier = Courier(settings.webhook_allow_private, settings.webhook_concurrency)
        worker = Worker(services.db, url, settings, services.box, services.flows, courier,
                        MetricsServer(settings.metrics_key, (settings.admin_key, settings.auditor_key)),
                        services.audit_keeper)
        await worker.run(metrics_port)
    finally:
        await services.close()
