-- Abuse-limit counters, shared by every process of one database: one row per bucket (a
-- limit and who it counts: an address or a username digest) and fixed window. A hit is one
-- upsert; the limiter reads the previous window with it for a sliding estimate.
-- UNLOGGED: counters need no crash safety nor replication (after a crash or a fail-over the
-- budgets start afresh), and unlogged writes skip the WAL, which keeps a hit cheap.
CREATE UNLOGGED TABLE rate_limit_hits (
    bucket text NOT NULL,
    window_start timestamptz NOT NULL,
    hits integer NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
