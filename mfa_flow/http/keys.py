"""What the application and a request hold, each under a typed key (aiohttp's ``AppKey`` and
``RequestKey``): a handler reading ``request.app[FLOWS]`` gets a ``FlowService`` to mypy, not
``Any``, and a misspelt key is a name error, not a ``KeyError`` at run time.

The keys of what ``app.py`` puts in the application at start-up are here. A key whose value
is a class of one module of this package, read by that module only (and set in ``app.py``),
sits beside its class, so that this module imports none of the modules that read it:
``SCHEMAS`` (``validation.py``), ``SITE`` (``pages.py``), ``CONNECTION_LIMITS``
(``connections.py``) and ``GAUGES`` (``health.py``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..app.audit import AuditService
from ..app.flows import FlowService
from ..app.limits import AbuseLimits
from ..app.management import Management
from ..app.oidc import OidcService
from ..app.services import Services
from ..app.webhooks import WebhookService
from ..live import ChangeFeed
from ..settings import Settings

# Set when the application is made.
SETTINGS = web.AppKey("settings", Settings)
OPENAPI = web.AppKey("openapi", dict[str, Any])  # the served /openapi.json
DRAINING = web.AppKey("draining", bool)  # SIGTERM came: /readyz answers 503

# Set at start-up, once the database is there (``create_app``'s lifecycle).
SERVICES = web.AppKey("services", Services)
FLOWS = web.AppKey("flows", FlowService)
MANAGEMENT = web.AppKey("management", Management)
WEBHOOKS = web.AppKey("webhooks", WebhookService)
AUDIT = web.AppKey("audit", AuditService)
LIMITS = web.AppKey("limits", AbuseLimits)
OIDC = web.AppKey("oidc", OidcService)
FEED = web.AppKey("feed", ChangeFeed)

# Set on a request whose answer has begun (its headers are sent): it can no longer run again.
RESPONSE_STARTED = web.RequestKey("response_started", bool)
