"""Settings, read once from the environment into a frozen value.

Command-line overrides are applied before construction (``from_env(**overrides)``), and keys
the environment does not give are generated outside (``local_keys.py``) and passed in, so a
``Settings`` never changes once built.
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import logs
from .passwords import profiles


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _int(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {raw!r}") from None


def _seconds_list(name: str, default: tuple[float, ...]) -> tuple[float, ...]:
    raw = _env(name)
    if raw is None:
        return default
    try:
        delays = tuple(float(part) for part in raw.split(",") if part.strip())
    except ValueError:
        delays = ()
    if not delays or any(d < 0 for d in delays):
        raise SystemExit(f"{name} must be comma-separated seconds (at least one, none negative), not {raw!r}")
    return delays


def _float(name: str, default: float, what: str = "a number of seconds") -> float:
    raw = _env(name)
    try:
        return default if raw is None else float(raw)
    except ValueError:
        raise SystemExit(f"{name} must be {what}, not {raw!r}") from None


def _limit(name: str, default: int) -> int:
    value = _int(name, default)
    if value < 0:
        raise SystemExit(f"{name} must be 0 (off) or a positive whole number, not {value}")
    return value


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(name: str) -> tuple[Network, ...]:
    raw = _env(name, "") or ""
    try:
        return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in raw.split(",") if part.strip())
    except ValueError:
        raise SystemExit(f"{name} must be comma-separated CIDRs such as 10.0.0.0/8,::1/128, not {raw!r}") from None


def _geo_headers(name: str) -> tuple[tuple[str, str], ...]:
    from .domain.adaptive import geo_headers

    try:
        return geo_headers(_env(name, "") or "")
    except ValueError as exc:
        raise SystemExit(f"{name} must be cloudflare or a comma list such as country=X-Country,city=X-City: {exc}"
                         ) from None


def _geoip_db(name: str) -> Path | None:
    raw = _env(name)
    if raw is None:
        return None
    path = Path(raw)
    if not path.is_file():
        raise SystemExit(f"{name} must be the path of a MaxMind-format (.mmdb) city database file; {raw!r} is no file")
    return path


def _phone_types(name: str) -> tuple[str, ...]:
    """Number types (``phonenumbers``' names, lower case) that may receive SMS codes."""
    from .contacts import PHONE_TYPES, SMS_NUMBER_TYPES

    raw = _env(name)
    if raw is None:
        return SMS_NUMBER_TYPES
    chosen = tuple(dict.fromkeys(part.strip().lower() for part in raw.split(",") if part.strip()))
    unknown = [kind for kind in chosen if kind not in PHONE_TYPES.values()]
    if not chosen or unknown:
        raise SystemExit(f"{name} must be comma-separated number types from: {', '.join(PHONE_TYPES.values())};"
                         f" not {raw!r}")
    return chosen


def _password_profile(name: str) -> profiles.Argon2Profile:
    try:
        return profiles.parse(_env(name, profiles.DEFAULT) or profiles.DEFAULT)
    except ValueError as exc:
        raise SystemExit(f"{name} {exc}") from None


def _colour(name: str, default: str) -> str:
    """A CSS hex colour (#rgb or #rrggbb), lowercased: it is written into a stylesheet as is."""
    raw = (_env(name, default) or default).strip().lower()
    if not re.fullmatch(r"#(?:[0-9a-f]{3}){1,2}", raw):
        raise SystemExit(f"{name} must be a hex colour such as #0a66d8, not {raw!r}")
    return raw


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = (_env(name, default) or default).strip().lower()
    if raw not in choices:
        raise SystemExit(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return raw


def _database_url(name: str) -> str | None:
    """A PostgreSQL URL, or None (an embedded PostgreSQL): another scheme is one line at start."""
    raw = _env(name)
    if raw is not None:
        scheme = raw.partition("://")[0].lower() if "://" in raw else ""
        if scheme not in ("postgresql", "postgres"):
            shown = f"a {scheme}:// URL" if scheme else repr(raw.split("@")[-1])  # never the password
            raise SystemExit(f"{name} must be a PostgreSQL URL (postgresql://USER:PASSWORD@HOST:PORT/DATABASE), not"
                             f" {shown}; mfa-flow runs on PostgreSQL only (leave it unset for an embedded one)")
    return raw


def _origins(name: str, raw: str) -> tuple[str, ...]:
    """Comma-separated web origins (scheme://host[:port]), as a browser names the page's."""
    origins = tuple(o.strip() for o in raw.split(",") if o.strip())
    for origin in origins:
        try:
            parts = urlsplit(origin)
            parts.port  # noqa: B018  (raises on a port that is not a number)
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") \
                or parts.query or parts.fragment or parts.username:
            raise SystemExit(f"{name} must be comma-separated origins such as https://login.example.com or"
                             f" http://localhost:8080 (scheme, host and port only), not {origin!r}")
    if not origins:
        raise SystemExit(f"{name} must name at least one origin, such as https://login.example.com")
    return origins


def local_origin(port: int) -> str:
    """The origin of the pages on this machine: ``localhost`` (an IP address such as 127.0.0.1
    cannot be a WebAuthn RP ID, so passkeys work only at a name) and the port served."""
    return f"http://localhost:{port}"


def _rp_id(name: str, raw: str | None, origins: tuple[str, ...]) -> str:
    """The WebAuthn RP ID: given, or the first origin's host. A page can use passkeys only when
    its host is the RP ID or ends with "." and the RP ID, so one that fits no origin is refused."""
    hosts = [urlsplit(origin).hostname or "" for origin in origins]
    if raw is None:  # an origin at an IP address has no RP ID that works: the pages say so (no passkeys)
        return hosts[0]
    rp_id = raw.strip().lower()
    if "://" in rp_id or ":" in rp_id or "/" in rp_id or _is_ip(rp_id):
        raise SystemExit(f"{name} must be a host name such as login.example.com (no scheme, port or IP address: a"
                         f" passkey cannot be bound to an IP address), not {rp_id!r}")
    if not any(host == rp_id or host.endswith("." + rp_id) for host in hosts):
        raise SystemExit(f"{name} ({rp_id!r}) fits none of MFA_FLOW_ORIGIN ({', '.join(origins)}): a page can use"
                         f" passkeys only when its host is the RP ID or ends with .{rp_id}; set MFA_FLOW_RP_ID to"
                         f" {hosts[0]!r} or MFA_FLOW_ORIGIN to the address people open")
    return rp_id


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def _flag(name: str) -> bool:
    return (_env(name, "") or "").lower() in ("1", "true", "yes", "on")


LOG_FORMATS = logs.FORMATS  # console, json
LOG_LEVELS = logs.LEVELS  # debug, info, warning, error


def default_log_format() -> str:
    """Readable lines for a person at a terminal, JSON for whatever collects the logs."""
    return "console" if sys.stderr.isatty() else "json"


# The result token's algorithms (``tokens.KEY_TYPE_OF_ALG``), the default first.
TOKEN_ALGORITHMS = ("ES256", "RS256", "EdDSA", "Ed25519")


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8080
    admin_key: str = ""
    auditor_key: str = ""
    secret_key: str = ""
    flow_ttl: int = 600
    sign_up: bool = False
    issuer: str = "mfa-flow"
    rp_id: str = "localhost"
    rp_name: str = "mfa-flow"
    # Where people open the pages (WebAuthn checks it): MFA_FLOW_ORIGIN, or http://localhost:<port>.
    origins: tuple[str, ...] = ("http://localhost:8080",)
    max_attempts: int = 5
    lockout_threshold: int = 10
    lockout_seconds: int = 900
    sweep_interval: float = 5.0
    # Password hashing: argon2 jobs that may wait for a thread before the answer is 503.
    hash_queue: int = 8
    # argon2 parameters (argon2id, or argon2i) of new password hashes; stored ones made otherwise are
    # rehashed at sign-in.
    password_hash: profiles.Argon2Profile = profiles.PROFILES[profiles.DEFAULT]
    # After SIGTERM, how long ``serve`` keeps answering (with /readyz at 503) before it stops.
    drain_seconds: float = 0.0
    # Abuse limits (0 turns one off): flows created and password attempts per minute, codes
    # sent per hour, per client address (and password attempts per username too). The client
    # address is the socket's, or X-Forwarded-For's when the socket is a trusted proxy.
    rate_flows: int = 60
    rate_passwords: int = 30
    rate_codes: int = 20
    rate_codes_destination: int = 10  # codes sent to one address or phone per hour
    # Number types (phonenumbers') that get SMS codes; premium-rate, toll-free... only when listed.
    sms_number_types: tuple[str, ...] = ("mobile", "fixed_line_or_mobile", "fixed_line", "voip", "personal_number")
    # Email and SMS codes: lifetime and resend gap (seconds); SMTP server for email codes.
    code_ttl: int = 600
    code_resend: int = 60
    smtp_url: str | None = None
    smtp_from: str = "mfa-flow@localhost"
    trusted_proxies: tuple[Network, ...] = ()
    # Adaptive MFA's signals: the headers a trusted proxy sets ((signal, header) pairs), a local
    # MaxMind-format city database, and how long successful sign-ins are kept (days).
    geo_headers: tuple[tuple[str, str], ...] = ()
    geoip_db: Path | None = None
    sign_in_history_days: int = 180
    webhook_allow_private: bool = False
    webhook_retry_schedule: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    webhook_concurrency: int = 8
    webhook_poll_interval: float = 1.0  # seconds between looks for due deliveries without a NOTIFY
    webhook_retention_days: float = 30.0  # ended deliveries' messages are deleted after; 0 keeps them
    token_audience: str = "mfa-flow"
    token_ttl: int = 300
    manage_max_age: int = 300  # how recent a result token must be to start an account flow, seconds
    # The result token's JWS algorithm: ES256 (every JOSE library verifies it), RS256, EdDSA or Ed25519.
    token_alg: str = "ES256"
    # After a client secret's rotation, how long the old secret still authenticates, seconds.
    oidc_secret_overlap: int = 86400
    checkpoint_rows: int = 1000
    checkpoint_seconds: int = 300
    # The audit trail's catch-up (after an upgrade, a restore, a bulk import): rows per
    # transaction, and the share of the time the worker spends on it (it rests in between).
    audit_batch: int = 2000
    audit_catch_up_share: float = 0.25
    log_origin: str = "mfa-flow/audit"
    metrics_key: str | None = None  # when set, /metrics wants it (else the admin or auditor key)
    metrics_refresh: float = 15.0  # seconds: /metrics reads the database's gauges at most this often
    body_timeout: float = 15.0  # seconds a request body may take to arrive
    # Slow and greedy clients (issue 21): seconds a connection may take to send a complete
    # request head (from opening, or from its previous answer); connections one client address
    # may hold open at once (0: no cap); database connections per process (0: sized for it).
    header_timeout: float = 15.0
    max_connections_per_address: int = 128
    db_pool: int = 0
    # Events applied to one flow (then 429 flow-event-limit); live subscriptions to one flow.
    max_events_per_flow: int = 100
    event_loop: str = "auto"  # auto (uvloop when installed), uvloop or asyncio
    workers: int = 1  # serve processes sharing the port (SO_REUSEPORT)
    # What the web pages (sign-in, account, console) call the product, and their accent colour.
    product_name: str = "mfa-flow"
    accent_color: str = "#0a66d8"
    default_locale: str = "en"  # the pages' language when nothing else chooses (issue 27, "Languages")
    # Logs: "console" (readable lines) or "json" (one object a line); by default console when
    # stderr is a terminal, json otherwise. The least level logged: debug, info, warning, error.
    log_format: str = "json"
    log_level: str = "info"
    schemas_dir: Path = field(default_factory=lambda: Path(__file__).resolve().parent.parent / "schemas")

    @property
    def oidc_issuer(self) -> str:
        """The OpenID Provider's issuer: the first of ``MFA_FLOW_ORIGIN``, without a trailing slash."""
        return self.origins[0].rstrip("/") if self.origins else "http://localhost:8080"

    @classmethod
    def from_env(cls, keys: dict[str, str] | None = None, **overrides: Any) -> "Settings":
        """The settings of this process: the environment, then ``keys`` (admin_key, auditor_key,
        secret_key when generated), then ``overrides`` (from the command line)."""
        issuer = _env("MFA_FLOW_ISSUER", "mfa-flow") or "mfa-flow"
        values: dict[str, Any] = dict(
            database_url=_database_url("DATABASE_URL"),
            data_dir=data_dir_from_env(),
            host=_env("MFA_FLOW_HOST", "127.0.0.1"),
            port=_int("MFA_FLOW_PORT", 8080),
            admin_key=_env("MFA_FLOW_ADMIN_KEY", ""),
            auditor_key=_env("MFA_FLOW_AUDITOR_KEY", ""),
            secret_key=_env("MFA_FLOW_SECRET_KEY", ""),
            flow_ttl=_int("MFA_FLOW_FLOW_TTL", 600),
            sign_up=_flag("MFA_FLOW_SIGN_UP"),
            issuer=issuer,
            rp_name=_env("MFA_FLOW_RP_NAME", "mfa-flow"),
            max_attempts=_int("MFA_FLOW_MAX_ATTEMPTS", 5),
            lockout_threshold=_int("MFA_FLOW_LOCKOUT_THRESHOLD", 10),
            lockout_seconds=_int("MFA_FLOW_LOCKOUT_SECONDS", 900),
            sweep_interval=_float("MFA_FLOW_SWEEP_INTERVAL", 5.0),
            drain_seconds=_float("MFA_FLOW_DRAIN_SECONDS", 0.0),
            hash_queue=max(0, _int("MFA_FLOW_HASH_QUEUE", 8)),
            password_hash=_password_profile("MFA_FLOW_PASSWORD_HASH"),
            rate_flows=_limit("MFA_FLOW_RATE_FLOWS", 60),
            rate_passwords=_limit("MFA_FLOW_RATE_PASSWORDS", 30),
            rate_codes=_limit("MFA_FLOW_RATE_CODES", 20),
            rate_codes_destination=_limit("MFA_FLOW_RATE_CODES_PER_DESTINATION", 10),
            code_ttl=_int("MFA_FLOW_CODE_TTL", 600),
            code_resend=_int("MFA_FLOW_CODE_RESEND", 60),
            smtp_url=_env("MFA_FLOW_SMTP_URL"),
            smtp_from=_env("MFA_FLOW_SMTP_FROM", "mfa-flow@localhost"),
            trusted_proxies=_networks("MFA_FLOW_TRUSTED_PROXIES"),
            geo_headers=_geo_headers("MFA_FLOW_GEO_HEADERS"),
            geoip_db=_geoip_db("MFA_FLOW_GEOIP_DB"),
            sign_in_history_days=_int("MFA_FLOW_SIGN_IN_HISTORY_DAYS", 180),
            webhook_allow_private=_flag("MFA_FLOW_WEBHOOK_ALLOW_PRIVATE"),
            webhook_retry_schedule=_seconds_list("MFA_FLOW_WEBHOOK_RETRY_SCHEDULE", cls.webhook_retry_schedule),
            webhook_concurrency=max(1, _int("MFA_FLOW_WEBHOOK_CONCURRENCY", 8)),
            webhook_poll_interval=_float("MFA_FLOW_WEBHOOK_POLL_INTERVAL", 1.0),
            webhook_retention_days=_float("MFA_FLOW_WEBHOOK_RETENTION_DAYS", 30.0),
            token_audience=_env("MFA_FLOW_TOKEN_AUDIENCE", issuer),
            token_ttl=_int("MFA_FLOW_TOKEN_TTL", 300),
            manage_max_age=_int("MFA_FLOW_MANAGE_MAX_AGE", 300),
            token_alg=_env("MFA_FLOW_TOKEN_ALG", "ES256"),
            oidc_secret_overlap=_int("MFA_FLOW_OIDC_SECRET_OVERLAP", 86400),
            checkpoint_rows=_int("MFA_FLOW_CHECKPOINT_ROWS", 1000),
            checkpoint_seconds=_int("MFA_FLOW_CHECKPOINT_SECONDS", 300),
            audit_batch=_int("MFA_FLOW_AUDIT_BATCH", 2000),
            audit_catch_up_share=_float("MFA_FLOW_AUDIT_CATCH_UP_SHARE", 0.25, "a share of the time from 0.01 to 1"),
            metrics_key=_env("MFA_FLOW_METRICS_KEY"),
            metrics_refresh=_float("MFA_FLOW_METRICS_REFRESH", 15.0),
            sms_number_types=_phone_types("MFA_FLOW_SMS_NUMBER_TYPES"),
            body_timeout=_float("MFA_FLOW_BODY_TIMEOUT", 15.0),
            header_timeout=_float("MFA_FLOW_HEADER_TIMEOUT", 15.0),
            max_connections_per_address=_limit("MFA_FLOW_MAX_CONNECTIONS_PER_ADDRESS", 128),
            db_pool=_int("MFA_FLOW_DB_POOL", 0),
            max_events_per_flow=_limit("MFA_FLOW_MAX_EVENTS_PER_FLOW", 100),
            event_loop=_env("MFA_FLOW_EVENT_LOOP", "auto"),
            workers=_int("MFA_FLOW_WORKERS", 1),
            product_name=(_env("MFA_FLOW_PRODUCT_NAME", issuer) or issuer).strip(),
            accent_color=_colour("MFA_FLOW_ACCENT_COLOR", "#0a66d8"),
            default_locale=(_env("MFA_FLOW_DEFAULT_LOCALE", "en") or "en").strip().lower(),
            log_format=_choice("MFA_FLOW_LOG_FORMAT", default_log_format(), LOG_FORMATS),
            log_level=_choice("MFA_FLOW_LOG_LEVEL", "info", LOG_LEVELS),
        )
        for name, seconds in (("MFA_FLOW_BODY_TIMEOUT", values["body_timeout"]),
                              ("MFA_FLOW_METRICS_REFRESH", values["metrics_refresh"]),
                              ("MFA_FLOW_HEADER_TIMEOUT", values["header_timeout"]),
                              ("MFA_FLOW_WEBHOOK_POLL_INTERVAL", values["webhook_poll_interval"])):
            if not seconds > 0:
                raise SystemExit(f"{name} must be a positive number of seconds, not {seconds:g}")
        if not values["webhook_retention_days"] >= 0:
            raise SystemExit("MFA_FLOW_WEBHOOK_RETENTION_DAYS must be a number of days (0 keeps messages for ever),"
                             f" not {values['webhook_retention_days']:g}")
        if not 100 <= values["audit_batch"] <= 1_000_000:
            raise SystemExit(f"MFA_FLOW_AUDIT_BATCH must be a number of rows from 100 to 1000000,"
                             f" not {values['audit_batch']}")
        if not 0.01 <= values["audit_catch_up_share"] <= 1:
            raise SystemExit("MFA_FLOW_AUDIT_CATCH_UP_SHARE must be a share of the time from 0.01 to 1 (1: no rest),"
                             f" not {values['audit_catch_up_share']:g}")
        if not 1 <= values["sign_in_history_days"] <= 3650:
            raise SystemExit("MFA_FLOW_SIGN_IN_HISTORY_DAYS must be a whole number of days from 1 to 3650, not"
                             f" {values['sign_in_history_days']}")
        if values["manage_max_age"] <= 0:
            raise SystemExit(f"MFA_FLOW_MANAGE_MAX_AGE must be a positive number of seconds, not {values['manage_max_age']}")
        if values["event_loop"] not in ("auto", "uvloop", "asyncio"):
            raise SystemExit(f"MFA_FLOW_EVENT_LOOP must be auto, uvloop or asyncio, not {values['event_loop']!r}")
        if values["code_ttl"] < 1 or values["code_resend"] < 0:
            raise SystemExit("MFA_FLOW_CODE_TTL must be at least 1 second and MFA_FLOW_CODE_RESEND not negative")
        if values["smtp_url"]:
            from .mail import SmtpServer  # checked at start, so a typo is not found at the first sign-in

            try:
                SmtpServer.from_url(values["smtp_url"])
            except ValueError as exc:
                raise SystemExit(str(exc)) from None
        if values["token_alg"] not in TOKEN_ALGORITHMS:
            raise SystemExit(f"MFA_FLOW_TOKEN_ALG must be one of {', '.join(TOKEN_ALGORITHMS)}, not {values['token_alg']!r}")
        if values["oidc_secret_overlap"] < 0:
            raise SystemExit("MFA_FLOW_OIDC_SECRET_OVERLAP must be a whole number of seconds, 0 or more, not"
                             f" {values['oidc_secret_overlap']}")
        # The transparency log's name: the first line of every tree head and its key's name. A
        # note's key name has no spaces and no '+': an issuer such as "Acme Corp" gives "Acme-Corp/audit".
        log_origin = _env("MFA_FLOW_LOG_ORIGIN", re.sub(r"[\s+]+", "-", issuer) + "/audit") or ""
        if not log_origin or "+" in log_origin or any(c.isspace() for c in log_origin):
            raise SystemExit("MFA_FLOW_LOG_ORIGIN must have no spaces and no '+' (it names the log's signing key)")
        values["log_origin"] = log_origin
        if _env("MFA_FLOW_SCHEMAS_DIR"):
            values["schemas_dir"] = Path(_env("MFA_FLOW_SCHEMAS_DIR") or "")
        values.update({k: v for k, v in (keys or {}).items() if v})
        values.update({k: v for k, v in overrides.items() if v is not None})
        for name, key, least, what in (
                ("MFA_FLOW_FLOW_TTL", "flow_ttl", 1, "a whole number of seconds, at least 1"),
                ("MFA_FLOW_MAX_ATTEMPTS", "max_attempts", 1, "a whole number, at least 1"),
                ("MFA_FLOW_LOCKOUT_THRESHOLD", "lockout_threshold", 1, "a whole number, at least 1"),
                ("MFA_FLOW_LOCKOUT_SECONDS", "lockout_seconds", 0, "a whole number of seconds, 0 or more"),
                ("MFA_FLOW_TOKEN_TTL", "token_ttl", 1, "a whole number of seconds, at least 1"),
                ("MFA_FLOW_CHECKPOINT_ROWS", "checkpoint_rows", 1, "a whole number of rows, at least 1"),
                ("MFA_FLOW_CHECKPOINT_SECONDS", "checkpoint_seconds", 1, "a whole number of seconds, at least 1"),
                ("MFA_FLOW_DRAIN_SECONDS", "drain_seconds", 0, "a number of seconds, 0 or more")):
            if not values[key] >= least:
                raise SystemExit(f"{name} must be {what}, not {values[key]:g}")
        if not values["sweep_interval"] > 0:
            raise SystemExit("MFA_FLOW_SWEEP_INTERVAL must be a positive number of seconds, not"
                             f" {values['sweep_interval']:g}")
        if values["db_pool"] < 0:
            raise SystemExit(f"MFA_FLOW_DB_POOL must be a number of connections (0: sized for the process), not"
                             f" {values['db_pool']}")
        if not 1 <= values["port"] <= 65535:
            raise SystemExit(f"the port (MFA_FLOW_PORT, --port) must be from 1 to 65535, not {values['port']}")
        # Passkeys work at the address the pages are opened at: by default the port served on
        # localhost, the address ``serve`` prints (``local_origin``).
        values["origins"] = _origins("MFA_FLOW_ORIGIN", _env("MFA_FLOW_ORIGIN") or local_origin(values["port"]))
        values["rp_id"] = _rp_id("MFA_FLOW_RP_ID", _env("MFA_FLOW_RP_ID"), values["origins"])
        if values["workers"] < 1:
            raise SystemExit(f"the number of serve workers (MFA_FLOW_WORKERS, --workers) must be at least 1, not"
                             f" {values['workers']}")
        return cls(**values)


def data_dir_from_env() -> Path:
    return Path(_env("MFA_FLOW_DATA_DIR", "./.mfa-flow") or "./.mfa-flow").resolve()
