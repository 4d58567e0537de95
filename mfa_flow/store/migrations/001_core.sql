-- The core of a sign-in: configuration, users, their factors, flows and the flow log.

CREATE TABLE mfa_config (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),  -- exactly one row
    factors     text[] NOT NULL DEFAULT '{}',
    policy      text NOT NULL DEFAULT 'user_controlled' CHECK (policy IN ('user_controlled', 'mandatory')),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO mfa_config DEFAULT VALUES;

CREATE TABLE users (
    id                    text PRIMARY KEY,
    username              text NOT NULL UNIQUE,
    password_hash         text,                 -- argon2id; NULL for users only an embedding backend signs in
    prompted              boolean NOT NULL DEFAULT false,
    last_used_factor      text,
    consecutive_failures  integer NOT NULL DEFAULT 0,
    locked_until          timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mfa_verifications (
    id             uuid PRIMARY KEY,
    user_id        text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type           text NOT NULL CHECK (type IN ('totp', 'webauthn', 'backup_code')),
    name           text,
    secret_sealed  text,      -- totp: the seed, encrypted with MFA_FLOW_SECRET_KEY
    last_step      bigint,    -- totp: newest accepted time-step (replay guard)
    salt           bytea,     -- backup_code: salt of the set
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_used_at   timestamptz
);
CREATE INDEX mfa_verifications_user ON mfa_verifications (user_id);
CREATE UNIQUE INDEX one_totp_per_user ON mfa_verifications (user_id) WHERE type = 'totp';
CREATE UNIQUE INDEX one_backup_code_set_per_user ON mfa_verifications (user_id) WHERE type = 'backup_code';

CREATE TABLE backup_codes (
    verification_id  uuid NOT NULL REFERENCES mfa_verifications (id) ON DELETE CASCADE,
    digest           bytea NOT NULL,  -- HMAC-SHA256(pepper, salt || normalised code)
    used_at          timestamptz,
    PRIMARY KEY (verification_id, digest)
);

-- No foreign key to users: a flow and its log outlive the user they were about.
CREATE TABLE flows (
    id             uuid PRIMARY KEY,
    token_digest   bytea NOT NULL,
    state          text NOT NULL,
    version        integer NOT NULL,
    mode           text,
    user_id        text,
    expires_at     timestamptz NOT NULL,
    attempts_left  integer NOT NULL,
    context        jsonb NOT NULL DEFAULT '{}',
    result         jsonb,
    chain_head     text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX flows_to_expire ON flows (expires_at)
    WHERE state NOT IN ('done', 'failed', 'expired', 'cancelled');
CREATE INDEX flows_user ON flows (user_id);

CREATE TABLE transitions (
    id          bigserial PRIMARY KEY,  -- the global cursor
    flow_id     uuid NOT NULL REFERENCES flows (id),
    seq         integer NOT NULL,
    event       text NOT NULL,
    from_state  text NOT NULL,
    to_state    text NOT NULL,
    at          timestamptz NOT NULL,
    actor       text NOT NULL,
    data        jsonb NOT NULL,
    prev_hash   text NOT NULL,
    hash        text NOT NULL,
    UNIQUE (flow_id, seq)
);
