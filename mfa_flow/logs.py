"""structlog set-up: readable lines for a person at a terminal, one JSON object a line for
whatever collects the logs (``MFA_FLOW_LOG_FORMAT=console|json``; by default console when
stderr is a terminal), from ``MFA_FLOW_LOG_LEVEL`` up. The standard library's loggers (aiohttp,
asyncpg) go through the same renderer, so every line of one process has one format.

Log calls name facts (flow id, event, states, duration), never a credential. As a second
line of defence ``_redact`` blanks any field whose name says it holds one.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, MutableMapping, TextIO

import structlog

from . import jsoncodec

_SECRET_FIELDS = {"password", "code", "secret", "token", "flow_token", "credential", "codes", "authorization"}
FORMATS = ("console", "json")
LEVELS = ("debug", "info", "warning", "error")


def _redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key.lower() in _SECRET_FIELDS:
            event_dict[key] = "[redacted]"
    return event_dict


def _chosen(name: str, choices: tuple[str, ...], default: str) -> str:
    """A setting read before the settings are (a bad value is refused by ``Settings``, with one line)."""
    value = (os.environ.get(name) or "").strip().lower()
    return value if value in choices else default


def configure(level: str | None = None, stream: TextIO | None = None, fmt: str | None = None) -> None:
    stream = stream or sys.stderr
    fmt = fmt or _chosen("MFA_FLOW_LOG_FORMAT", FORMATS, "console" if _isatty(stream) else "json")
    level_number = logging.getLevelName((level or _chosen("MFA_FLOW_LOG_LEVEL", LEVELS, "info")).upper())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True) if fmt == "json"
        else structlog.processors.TimeStamper(fmt="%H:%M:%S", utc=False),
        _redact,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=jsoncodec.dumps) if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=_isatty(stream) and "NO_COLOR" not in os.environ)
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    *([structlog.processors.format_exc_info] if fmt == "json" else []), renderer],
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level_number)
    # aiohttp's access log would print query strings, and ?token= carries a flow token.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # transitions narrates every callback at INFO; our own "transition" line says what matters.
    logging.getLogger("transitions").setLevel(logging.WARNING)
    # pgserver narrates initdb and pg_ctl at INFO; one line of ours says where the database is.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info if fmt == "json" else structlog.dev.set_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level_number),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=True,
    )


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def get(name: str) -> Any:
    """The logger of a module: ``log = logs.get(__name__)``."""
    return structlog.get_logger(name)
