"""Every setting the service reads from its environment: what it means and what it allows.

The configuration reference (docs/configuration.md) is written from this list by
``scripts/docs generate``, with each default read from ``Settings`` itself (a setting built
from the environment with nothing set), so the page cannot say another default than the code
has. tests/docs checks that the page is what this list and ``Settings`` say, that every
``MFA_FLOW_*`` name the package reads is here, and that every name here is read.
"""

from __future__ import annotations

from dataclasses import dataclass

from .passwords import profiles
from .settings import LOG_FORMATS, LOG_LEVELS, TOKEN_ALGORITHMS


@dataclass(frozen=True)
class Setting:
    name: str
    group: str
    meaning: str
    allowed: str
    field: str | None = None  # the ``Settings`` attribute it sets, whose default the page shows
    default: str | None = None  # the default in words, where it is not a value (generated, derived)


def _one_of(values: tuple[str, ...]) -> str:
    return "one of " + ", ".join(f"`{v}`" for v in values)


FLAG = "`1`, `true`, `yes` or `on` for on; anything else (or unset) is off"
LIMIT = "`0` (off) or a positive whole number"

SETTINGS: tuple[Setting, ...] = (
    # --- where it runs ---------------------------------------------------------------------------
    Setting("DATABASE_URL", "Where it runs",
            "The PostgreSQL database to use. Several hosts (`host1:5432,host2:5432`) with "
            "`target_session_attrs=read-write` follow a fail-over (see "
            "[failure behaviour and fail-over](operations/failover.md)).",
            "a PostgreSQL URL, `postgresql://USER:PASSWORD@HOST:PORT/DATABASE`",
            field="database_url", default="an embedded PostgreSQL (pgserver) under the data folder"),
    Setting("MFA_FLOW_DATA_DIR", "Where it runs",
            "The local data folder: the embedded database, and the keys generated when the environment gives none.",
            "a folder path", field="data_dir", default="`./.mfa-flow`"),
    Setting("MFA_FLOW_HOST", "Where it runs", "The address `serve` listens on (also `serve --host`).",
            "an IP address or host name", field="host"),
    Setting("MFA_FLOW_PORT", "Where it runs", "The port `serve` listens on (also `serve --port`).",
            "a port number, 1 to 65535", field="port"),
    Setting("MFA_FLOW_WORKERS", "Where it runs",
            "`serve` processes sharing the port with `SO_REUSEPORT` (also `serve --workers N`); each is a full "
            "serve process of the same database; SIGTERM to `serve` drains and stops them all, and if one ends "
            "the others are stopped (see [performance](performance.md)).",
            "a whole number, at least 1", field="workers"),
    Setting("MFA_FLOW_EVENT_LOOP", "Where it runs",
            "The event loop: `auto` takes uvloop when it is installed (`pip install 'mfa-flow[fast]'`; the image "
            "has it), `uvloop` refuses to start without it, `asyncio` is the standard one.",
            _one_of(("auto", "uvloop", "asyncio")), field="event_loop"),
    Setting("MFA_FLOW_WORKER_METRICS_PORT", "Where it runs",
            "Where `worker` serves `/metrics` and `/healthz`, on `MFA_FLOW_HOST` (also `worker --metrics-port`).",
            "a port number", default="off"),
    Setting("MFA_FLOW_DRAIN_SECONDS", "Where it runs",
            "After SIGTERM, how long `serve` keeps serving with `/readyz` at 503 before it shuts down.",
            "a number of seconds, 0 or more", field="drain_seconds"),
    Setting("MFA_FLOW_BODY_TIMEOUT", "Where it runs",
            "Seconds a request body may take to arrive after its headers; then 408 and the connection is closed.",
            "a positive number of seconds", field="body_timeout"),
    Setting("MFA_FLOW_HEADER_TIMEOUT", "Where it runs",
            "Seconds a connection may take to send a complete request head, from when it opens (or from the first "
            "byte after its previous answer); then it is closed.", "a positive number of seconds",
            field="header_timeout"),
    Setting("MFA_FLOW_DB_POOL", "Where it runs",
            "Database connections per process (its pool's most). No connection is held across a call to an SMTP "
            "server or a webhook endpoint, nor while argon2 runs, so a few serve many requests.",
            "`0` (sized for the process) or a positive whole number", field="db_pool",
            default="`0`: 10 for `serve`, `MFA_FLOW_WEBHOOK_CONCURRENCY` + 2 for `worker`"),
    Setting("MFA_FLOW_SCHEMAS_DIR", "Where it runs",
            "Where `openapi.yaml` and the JSON Schemas are (the image copies them there).",
            "a folder path", field="schemas_dir", default="the repository's `schemas/`"),
    # --- logs -------------------------------------------------------------------------------------
    Setting("MFA_FLOW_LOG_FORMAT", "Logs",
            "How log lines are written (on standard error): `console`, readable lines for a person; `json`, one "
            "object a line for whatever collects the logs.", _one_of(LOG_FORMATS), field="log_format",
            default="`console` when standard error is a terminal, `json` otherwise"),
    Setting("MFA_FLOW_LOG_LEVEL", "Logs", "The least important level logged.", _one_of(LOG_LEVELS),
            field="log_level"),
    # --- keys --------------------------------------------------------------------------------------
    Setting("MFA_FLOW_ADMIN_KEY", "Keys",
            "The admin API key: everything (configuration, users, webhooks, driving any flow). From a secret "
            "store in production (see [security model](security.md)).",
            "any string", field="admin_key", default="generated into the data folder (`admin.key`) and printed once"),
    Setting("MFA_FLOW_AUDITOR_KEY", "Keys", "The auditor API key: read-only (flows, the log, checkpoints).",
            "any string", field="auditor_key",
            default="generated into the data folder (`auditor.key`) and printed once"),
    Setting("MFA_FLOW_SECRET_KEY", "Keys",
            "The key that encrypts TOTP seeds, signing keys and webhook secrets, and peppers backup codes; the "
            "same for every process of one installation (`serve` refuses to start with another). Without it "
            "the stored secrets cannot be read: keep it apart from the database backups.",
            "a Fernet key (32 bytes, URL-safe base64)",
            field="secret_key", default="generated into the data folder (`secret.key`), with a warning"),
    Setting("MFA_FLOW_METRICS_KEY", "Keys",
            "When set, `/metrics` (of `serve` and of `worker`) wants it as a Bearer token, and nothing else opens it; "
            "unset, `/metrics` wants the admin or the auditor key (it is never open).",
            "any string", field="metrics_key"),
    Setting("MFA_FLOW_METRICS_REFRESH", "Keys",
            "Seconds between two reads of the gauges `/metrics` takes from the database (flows by state, webhook "
            "deliveries by status, the audit tree), per process: scrapes in between show the last read "
            "(`mfa_flow_gauges_read_timestamp_seconds` says when), so no scrape rate makes the service count its "
            "flows more often.", "a positive number of seconds", field="metrics_refresh"),
    # --- sign-in -----------------------------------------------------------------------------------
    Setting("MFA_FLOW_FLOW_TTL", "Sign-in", "How long a flow lives (rule 7).", "a whole number of seconds, at least 1",
            field="flow_ttl"),
    Setting("MFA_FLOW_MAX_ATTEMPTS", "Sign-in", "Wrong proofs (passwords and codes) a flow allows (rule 6).",
            "a whole number, at least 1", field="max_attempts"),
    Setting("MFA_FLOW_LOCKOUT_THRESHOLD", "Sign-in", "Consecutive failures across flows that lock a user (rule 6).",
            "a whole number, at least 1", field="lockout_threshold"),
    Setting("MFA_FLOW_LOCKOUT_SECONDS", "Sign-in", "How long a locked user stays locked.",
            "a whole number of seconds, 0 or more",
            field="lockout_seconds"),
    Setting("MFA_FLOW_SWEEP_INTERVAL", "Sign-in", "Seconds between expiry sweeps (of `serve` and `worker`).",
            "a positive number of seconds", field="sweep_interval"),
    Setting("MFA_FLOW_SIGN_UP", "Sign-in", "Allow `submit_registration` (self-service sign-up).", FLAG,
            field="sign_up"),
    Setting("MFA_FLOW_MANAGE_MAX_AGE", "Sign-in",
            "How recent (by its `iat`) a result token must be to start an account flow.",
            "a positive whole number of seconds", field="manage_max_age"),
    # --- abuse limits -----------------------------------------------------------------------------
    Setting("MFA_FLOW_RATE_FLOWS", "Abuse limits",
            "Flows created per client address per minute; shared by every `serve` process of one database "
            "(counted in PostgreSQL); requests with the admin key are never counted.", LIMIT, field="rate_flows"),
    Setting("MFA_FLOW_RATE_PASSWORDS", "Abuse limits",
            "Password attempts per client address, and per username, per minute (the admin key is never counted).",
            LIMIT, field="rate_passwords"),
    Setting("MFA_FLOW_RATE_CODES", "Abuse limits",
            "Email and SMS codes sent per client address per hour (the admin key is never counted).",
            LIMIT, field="rate_codes"),
    Setting("MFA_FLOW_RATE_CODES_PER_DESTINATION", "Abuse limits",
            "Codes sent to one email address or phone per hour, whoever asks (the admin key too): it protects the "
            "recipient from a flood, and an SMS bill from \"SMS pumping\".", LIMIT, field="rate_codes_destination"),
    Setting("MFA_FLOW_SMS_NUMBER_TYPES", "Abuse limits",
            "The phone number types (as `phonenumbers` tells them from each country's numbering plan) that get SMS "
            "codes; a number of another type (`premium_rate`, `shared_cost`, `toll_free`, `uan`, `voicemail`, "
            "`pager`, `unknown`) is refused with 422 `number-type-refused` at enrolment and before any code.",
            "comma-separated types from: `fixed_line`, `mobile`, `fixed_line_or_mobile`, `toll_free`, `premium_rate`, "
            "`shared_cost`, `voip`, `personal_number`, `pager`, `uan`, `voicemail`, `unknown`",
            field="sms_number_types"),
    Setting("MFA_FLOW_MAX_CONNECTIONS_PER_ADDRESS", "Abuse limits",
            "Connections one client address may hold open to one `serve` process; the next is answered 429 "
            "`too-many-connections` and closed. A trusted proxy's connections count against the client address "
            "it forwards, while a request is served.", "`0` (no cap) or a positive whole number",
            field="max_connections_per_address"),
    Setting("MFA_FLOW_MAX_EVENTS_PER_FLOW", "Abuse limits",
            "Events applied to one flow, counted as its transitions (an event writes one or more, a code's delivery "
            "one more); beyond them its events answer 429 `flow-event-limit`, and a new sign-in starts afresh. A "
            "flow also has at most 8 live subscriptions (WebSocket, SSE, long-poll) per `serve` process: then 429 "
            "`live-subscription-limit`, or WebSocket close code 4429.", LIMIT,
            field="max_events_per_flow"),
    Setting("MFA_FLOW_TRUSTED_PROXIES", "Abuse limits",
            "Proxies whose `X-Forwarded-For` is believed: the nearest address they did not add is the client's "
            "(IPv6 clients count by their /64). Set it to exactly the load balancers' addresses.",
            "comma-separated CIDRs such as `10.0.0.0/8,::1/128`", field="trusted_proxies", default="none"),
    # --- adaptive MFA ------------------------------------------------------------------------------
    Setting("MFA_FLOW_GEO_HEADERS", "Adaptive MFA",
            "Headers that carry the client's country, region, city, position and bot score, believed only on "
            "requests from a peer in `MFA_FLOW_TRUSTED_PROXIES` (see [adaptive MFA](concepts/adaptive-mfa.md)).",
            "`cloudflare` (`CF-IPCountry`, `CF-Region-Code`, `CF-IPCity`, `CF-IPLatitude`, `CF-IPLongitude`) or a "
            "comma list `country=Header,region=Header,city=Header,latitude=Header,longitude=Header,bot_score=Header` "
            "(any subset)", field="geo_headers", default="none"),
    Setting("MFA_FLOW_GEOIP_DB", "Adaptive MFA",
            "A MaxMind-format city database (GeoLite2-City or GeoIP2-City, or one of the same layout) that places "
            "the client's address when neither the embedding backend nor a proxy's headers did. Read locally: "
            "no network look-up is ever made.", "the path of a `.mmdb` file", field="geoip_db", default="none"),
    Setting("MFA_FLOW_SIGN_IN_HISTORY_DAYS", "Adaptive MFA",
            "How long a user's successful sign-ins (time, country, region, city, position, device) are kept for "
            "adaptive MFA and the recent sign-ins lists; the worker deletes older ones. They go with the user.",
            "a whole number of days from 1 to 3650", field="sign_in_history_days"),
    # --- passwords --------------------------------------------------------------------------------
    Setting("MFA_FLOW_PASSWORD_HASH", "Passwords",
            "The argon2 cost of new password hashes; stored hashes made otherwise are rehashed at their user's "
            "next sign-in (what each costs: [users and imported passwords](users.md)).",
            f"{_one_of(tuple(profiles.PROFILES))} (rfc9106-low-memory: argon2id t=3, m=64 MiB, p=4; owasp: argon2id "
            "t=2, m=19 MiB, p=1), or explicit parameters as a PHC string writes them, "
            "`argon2id:m=<KiB>,t=<passes>,p=<lanes>`, or `argon2i:m=…,t=…,p=…` to keep the variant of imported "
            "argon2i digests; at least m=8×p and m×t ≥ 35,840 KiB (OWASP's cheapest line)",
            field="password_hash", default=f"`{profiles.DEFAULT}`"),
    Setting("MFA_FLOW_HASH_QUEUE", "Passwords",
            "Password checks that may wait for a hashing thread (one per core) before the answer is 503.",
            "a whole number", field="hash_queue"),
    # --- codes ------------------------------------------------------------------------------------
    Setting("MFA_FLOW_CODE_TTL", "Email and SMS codes", "How long an email or SMS code works.",
            "a whole number of seconds, at least 1", field="code_ttl"),
    Setting("MFA_FLOW_CODE_RESEND", "Email and SMS codes",
            "The least time between two sends of one flow (a flow sends at most 5 codes).",
            "a whole number of seconds, 0 or more", field="code_resend"),
    Setting("MFA_FLOW_SMTP_URL", "Email and SMS codes",
            "The SMTP server for email codes; certificates are checked against the system's trust store. Unset: "
            "email codes go by the `verification_code.requested` webhook, like SMS.",
            "`smtp://user:pass@host:port` (plain; add `?starttls=1` to require STARTTLS) or "
            "`smtps://user:pass@host` (TLS from the start, port 465 by default)", field="smtp_url", default="none"),
    Setting("MFA_FLOW_SMTP_FROM", "Email and SMS codes", "The sender of email codes.", "an email address",
            field="smtp_from"),
    # --- passkeys ---------------------------------------------------------------------------------
    Setting("MFA_FLOW_RP_ID", "Passkeys (WebAuthn)",
            "The relying party ID passkeys are bound to: the host name people open the pages at, or a parent "
            "domain of it (rule 10). One that fits no `MFA_FLOW_ORIGIN` stops the start.",
            "a host name (not an IP address: a passkey cannot be bound to one)", field="rp_id",
            default="the host of the first `MFA_FLOW_ORIGIN` (`localhost` by default)"),
    Setting("MFA_FLOW_RP_NAME", "Passkeys (WebAuthn)", "The relying party's name, shown by the browser.",
            "any text", field="rp_name"),
    Setting("MFA_FLOW_ORIGIN", "Passkeys (WebAuthn)",
            "Where people open the pages: the origins a passkey's answer may come from; the first is also the "
            "OpenID Provider's issuer (see [OpenID Connect](oidc.md)).",
            "comma-separated origins, `scheme://host[:port]` (`http` or `https`, no path)", field="origins",
            default="`http://localhost:<port>`, the port `serve` listens on (`MFA_FLOW_PORT`, `--port`): the address "
                    "it prints, where passkeys work"),
    # --- tokens -----------------------------------------------------------------------------------
    Setting("MFA_FLOW_ISSUER", "Result tokens",
            "The TOTP issuer (the name an authenticator app shows) and the result token's `iss`.", "any text",
            field="issuer"),
    Setting("MFA_FLOW_TOKEN_AUDIENCE", "Result tokens", "The result token's `aud`.", "any text",
            field="token_audience", default="`MFA_FLOW_ISSUER`'s value"),
    Setting("MFA_FLOW_TOKEN_TTL", "Result tokens", "The result token's lifetime.", "a whole number of seconds, at least 1",
            field="token_ttl"),
    Setting("MFA_FLOW_TOKEN_ALG", "Result tokens",
            "The JWS `alg` of result tokens: `ES256` (every JOSE library verifies it), `RS256`, `EdDSA` or "
            "`Ed25519` (RFC 9864; PyJWT refuses it).", _one_of(TOKEN_ALGORITHMS), field="token_alg"),
    Setting("MFA_FLOW_OIDC_SECRET_OVERLAP", "Result tokens",
            "After an OpenID client's secret is rotated, how long the old secret still authenticates.",
            "a whole number of seconds, 0 or more", field="oidc_secret_overlap"),
    # --- audit trail ------------------------------------------------------------------------------
    Setting("MFA_FLOW_CHECKPOINT_ROWS", "Audit trail", "A signed audit checkpoint (and tree head) every N rows.",
            "a whole number of rows, at least 1", field="checkpoint_rows"),
    Setting("MFA_FLOW_CHECKPOINT_SECONDS", "Audit trail",
            "A signed audit checkpoint (and tree head) at least this often while rows come in.",
            "a whole number of seconds, at least 1",
            field="checkpoint_seconds"),
    Setting("MFA_FLOW_AUDIT_BATCH", "Audit trail",
            "The audit trail's catch-up (after an upgrade, a restore, a bulk import): log rows per transaction.",
            "a whole number from 100 to 1000000", field="audit_batch"),
    Setting("MFA_FLOW_AUDIT_CATCH_UP_SHARE", "Audit trail",
            "The share of the time the worker spends catching the audit trail up; it rests in between.",
            "a number from 0.01 to 1 (1: no rest)", field="audit_catch_up_share"),
    Setting("MFA_FLOW_LOG_ORIGIN", "Audit trail",
            "The transparency log's name: the first line of every signed tree head, and its key's name.",
            "text without spaces or `+`", field="log_origin",
            default="`<MFA_FLOW_ISSUER>/audit` (spaces and `+` in the issuer become `-`)"),
    # --- webhooks ---------------------------------------------------------------------------------
    Setting("MFA_FLOW_WEBHOOK_ALLOW_PRIVATE", "Webhooks",
            "Allow webhook URLs on loopback, private, carrier-grade NAT and link-local addresses (`http` to "
            "loopback); multicast, documentation, reserved and other special-purpose ranges and cloud metadata "
            "addresses are refused whatever it says (see [webhooks](webhooks.md)).", FLAG, field="webhook_allow_private"),
    Setting("MFA_FLOW_WEBHOOK_RETRY_SCHEDULE", "Webhooks", "The delays before each try of a delivery.",
            "comma-separated seconds (at least one, none negative)", field="webhook_retry_schedule"),
    Setting("MFA_FLOW_WEBHOOK_CONCURRENCY", "Webhooks", "Deliveries in flight per worker.",
            "a whole number, at least 1", field="webhook_concurrency"),
    Setting("MFA_FLOW_WEBHOOK_POLL_INTERVAL", "Webhooks",
            "Seconds between a worker's looks for due deliveries when no NOTIFY wakes it.",
            "a positive number of seconds", field="webhook_poll_interval"),
    Setting("MFA_FLOW_WEBHOOK_RETENTION_DAYS", "Webhooks",
            "The worker deletes a webhook message once all its deliveries ended (delivered, or failed after the "
            "last try) this many days ago; pending ones never.", "a number of days, `0` keeps all",
            field="webhook_retention_days"),
    # --- pages ------------------------------------------------------------------------------------
    Setting("MFA_FLOW_PRODUCT_NAME", "Pages", "What the sign-in, account and console pages call the product.",
            "any text", field="product_name", default="`MFA_FLOW_ISSUER`'s value"),
    Setting("MFA_FLOW_ACCENT_COLOR", "Pages",
            "The pages' accent colour; text on it is black or white, whichever contrasts more.",
            "`#rgb` or `#rrggbb`", field="accent_color"),
    Setting("MFA_FLOW_DEFAULT_LOCALE", "Pages",
            "The language of the sign-in page, the factor catalogue, emails and SMS texts when nothing else "
            "chooses one (see [languages](concepts/languages.md)); one not offered falls back to `en`.",
            _one_of(("en", "de", "fr", "es", "ja", "ar")), field="default_locale"),
)
