"""structlog set-up: one JSON object per line on stderr.

Log calls name facts (flow id, event, states, duration), never a credential. As a second
line of defence ``_redact`` blanks any field whose name says it holds one.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from . import jsoncodec

_SECRET_FIELDS = {"password", "code", "secret", "token", "flow_token", "credential", "codes", "authorization"}


def _redact(_, __, event_dict):
    for key in list(event_dict):
        if key.lower() in _SECRET_FIELDS:
            event_dict[key] = "[redacted]"
    return event_dict


def configure(level: str = "INFO", stream=None) -> None:
    stream = stream or sys.stderr
    logging.basicConfig(format="%(message)s", stream=stream, level=level)
    # aiohttp's access log would print query strings, and ?token= carries a flow token.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # transitions narrates every callback at INFO; our own "transition" line says what matters.
    logging.getLogger("transitions").setLevel(logging.WARNING)
    # pgserver narrates initdb and pg_ctl at INFO; one line of ours says where the database is.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=jsoncodec.dumps),
        ],
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=True,
    )


def get(name: str) -> Any:
    """The logger of a module: ``log = logs.get(__name__)``."""
    return structlog.get_logger(name)
