"""Prometheus metrics (prometheus-client)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

FLOWS_BY_STATE = Gauge("mfa_flow_flows", "Flows in the database, by state", ["state"], registry=REGISTRY)
TRANSITIONS = Counter("mfa_flow_transitions", "Transitions committed, by event", ["event"], registry=REGISTRY)
TRANSITION_SECONDS = Histogram(
    "mfa_flow_transition_seconds",
    "Time to apply one event: lock, decide, write, commit",
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
