-- Webhooks: endpoints, the transactional outbox and one delivery per (message, endpoint).

CREATE TABLE webhook_endpoints (
    id                          uuid PRIMARY KEY,
    url                         text NOT NULL,
    events                      text[] NOT NULL,          -- event types, or '{*}' for all
    enabled                     boolean NOT NULL DEFAULT true,
    description                 text,
    disabled_reason             text,                     -- why the worker disabled it (410 Gone)
    secret_sealed               text NOT NULL,            -- whsec_..., encrypted with MFA_FLOW_SECRET_KEY
    previous_secret_sealed      text,                     -- still signs until previous_secret_expires_at
    previous_secret_expires_at  timestamptz,
    created_at                  timestamptz NOT NULL,
    updated_at                  timestamptz NOT NULL
);

-- The outbox: written in the transaction of the change that caused the event, so a
-- message exists if and only if that change committed.
CREATE TABLE webhook_messages (
    seq           bigserial PRIMARY KEY,                  -- commit-ish order, for per-flow ordering
    id            text NOT NULL UNIQUE,                   -- msg_..., the webhook-id on every attempt
    type          text NOT NULL,
    ordering_key  text NOT NULL,                          -- flow:<id> or user:<id>
    data          jsonb NOT NULL,
    occurred_at   timestamptz NOT NULL
);

CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq              bigserial UNIQUE,                    -- list cursor
    message_seq      bigint NOT NULL REFERENCES webhook_messages (seq) ON DELETE CASCADE,
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    ordering_key     text NOT NULL,                       -- copied from the message for the claim query
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,          -- every attempt ever made
    round_attempts   integer NOT NULL DEFAULT 0,          -- attempts since the schedule (re)started
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_attempt_at  timestamptz,
    last_status      integer,                             -- HTTP status of the last attempt
    last_response    text,                                -- first bytes of the last response body
    last_error       text,                                -- connection error, timeout, refusal
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (message_seq, endpoint_id)
);
-- What the worker looks for: due pending deliveries, and earlier pending ones of the same
-- flow and endpoint (which hold later ones back, so a flow's events arrive in order).
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_in_order ON webhook_deliveries (endpoint_id, ordering_key, message_seq)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_of_endpoint ON webhook_deliveries (endpoint_id, seq);
