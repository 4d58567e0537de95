"""Prometheus metrics (prometheus-client)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

FLOWS_BY_STATE = Gauge("mfa_flow_flows", "Flows in the database, by state", ["state"], registry=REGISTRY)
GAUGES_READ = Gauge(
    "mfa_flow_gauges_read_timestamp_seconds",
    "When this process last read the gauges it takes from the database (at most every MFA_FLOW_METRICS_REFRESH s)",
    registry=REGISTRY,
)
TRANSITIONS = Counter("mfa_flow_transitions", "Transitions committed, by event", ["event"], registry=REGISTRY)
TRANSITION_SECONDS = Histogram(
    "mfa_flow_transition_seconds",
    "Time to apply one event: lock, decide, write, commit",
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)

# --- The audit trail (the worker keeps it; /metrics of `serve` reads the gauges from the database) ---
AUDIT_ROWS_BEHIND = Gauge(
    "mfa_flow_audit_rows_behind",
    "Transition rows not yet in the Merkle tree and the signed checkpoints (about: counted from the row ids)",
    registry=REGISTRY,
)
AUDIT_TREE_SIZE = Gauge("mfa_flow_audit_tree_size", "Leaves in the audit log's Merkle tree", registry=REGISTRY)
AUDIT_ROWS_ADDED = Counter(
    "mfa_flow_audit_rows_added", "Rows this process added to the Merkle tree (a catch-up's rate is its rate())",
    registry=REGISTRY,
)

# --- Webhooks (the worker's counters; /metrics of `serve` shows deliveries by status) -------
WEBHOOK_DELIVERIES = Gauge(
    "mfa_flow_webhook_deliveries", "Webhook deliveries in the database, by status", ["status"], registry=REGISTRY
)
WEBHOOK_ATTEMPTS = Counter(
    "mfa_flow_webhook_attempts",
    "Webhook delivery attempts by outcome (succeeded, retry, failed)",
    ["outcome"],
    registry=REGISTRY,
)
WEBHOOK_ATTEMPT_SECONDS = Histogram(
    "mfa_flow_webhook_attempt_seconds",
    "Time of one delivery attempt: claim, POST, record, commit",
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15),
)
WEBHOOK_LAG_SECONDS = Histogram(
    "mfa_flow_webhook_lag_seconds",
    "From the commit of the change to its successful delivery",
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300, 3600),
)
WEBHOOK_MESSAGES_DELETED = Counter(
    "mfa_flow_webhook_messages_deleted",
    "Webhook messages the retention sweep deleted (their deliveries ended MFA_FLOW_WEBHOOK_RETENTION_DAYS ago)",
    registry=REGISTRY,
)
FLOWS_EXPIRED_BY_SWEEP = Counter(
    "mfa_flow_flows_expired_by_sweep", "Flows the expiry sweep expired", registry=REGISTRY
)

# --- Abuse resistance -------------------------------------------------------------------------
PASSWORD_HASHES = Counter(
    "mfa_flow_password_hashes", "argon2 jobs run (password checks and new hashes)", registry=REGISTRY
)
PASSWORD_HASHES_REFUSED = Counter(
    "mfa_flow_password_hashes_refused", "Password events answered 503 because the hashing queue was full",
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "mfa_flow_rate_limited", "Requests refused with 429 by an abuse limit, by limit", ["limit"], registry=REGISTRY
)

# --- Email and SMS codes ----------------------------------------------------------------------
CODE_DELIVERIES = Counter(
    "mfa_flow_code_deliveries",
    "Email and SMS codes whose delivery ended, by channel (email, sms), route (smtp, webhook) and outcome (sent, failed)",
    ["channel", "via", "outcome"], registry=REGISTRY,
)

# --- Live subscriptions -----------------------------------------------------------------------
LIVE_FLOW_READS = Counter(
    "mfa_flow_live_flow_reads",
    "Flows read by the change feed for its live subscribers: one per change and process, however many follow it",
    registry=REGISTRY,
)
