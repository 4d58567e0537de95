-- The audit side of the transition log: a global order that readers can resume without
-- missing late commits, an append-only guard, signing keys, and signed checkpoints.

-- The transaction that wrote each row. The global order is (xid, id), and a reader is only
-- handed rows whose xid is below pg_snapshot_xmin(pg_current_snapshot()): every transaction
-- below that horizon has finished, so no row can later appear before a cursor already
-- handed out. No hot row is touched: the id sequence and the xid are both free of contention.
ALTER TABLE transitions ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX transitions_global_order ON transitions (xid, id);

-- Append-only: UPDATE, DELETE and TRUNCATE are refused. The one exception is the logged
-- retention purge (mfa-flow audit purge), which sets mfa_flow.purge for its own transaction.
-- This guards against mistakes and application bugs; an owner of the database can still
-- disable triggers, which is what the hash chain and the signed checkpoints are for.
CREATE FUNCTION transitions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('mfa_flow.purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the transition log is append-only: % on transitions is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'old rows are removed only by mfa-flow audit purge';
END
$$;
CREATE TRIGGER transitions_append_only BEFORE UPDATE OR DELETE ON transitions
    FOR EACH ROW EXECUTE FUNCTION transitions_append_only();
CREATE TRIGGER transitions_no_truncate BEFORE TRUNCATE ON transitions
    FOR EACH STATEMENT EXECUTE FUNCTION transitions_append_only();

-- Ed25519 keys that sign result tokens and checkpoints. Exactly one is active (signs);
-- a retired key stays published in the JWKS until the tokens it signed have expired;
-- a removed key is withdrawn at once and its private half wiped. Public halves are kept
-- for good: old checkpoints stay verifiable.
CREATE TABLE signing_keys (
    kid             text PRIMARY KEY,       -- RFC 7638 thumbprint of the public key
    public_jwk      jsonb NOT NULL,
    private_sealed  text,                   -- the private JWK, encrypted with MFA_FLOW_SECRET_KEY
    created_at      timestamptz NOT NULL DEFAULT now(),
    retired_at      timestamptz,
    removed_at      timestamptz
);
CREATE UNIQUE INDEX one_active_signing_key ON signing_keys ((true))
    WHERE retired_at IS NULL AND removed_at IS NULL;

-- Signed checkpoints of the global order: after `rows` rows, up to and including the row at
-- (cursor_xid, cursor_id), the running hash is `running_hash`.
CREATE TABLE audit_checkpoints (
    id            bigserial PRIMARY KEY,
    cursor_xid    xid8 NOT NULL,
    cursor_id     bigint NOT NULL,
    rows          bigint NOT NULL,
    running_hash  text NOT NULL,
    at            timestamptz NOT NULL,
    kid           text NOT NULL REFERENCES signing_keys (kid),
    signature     text NOT NULL,            -- compact JWS over the canonical JSON of the above
    UNIQUE (cursor_xid, cursor_id)
);

-- Every retention purge, so that the log says what was removed and from which checkpoint
-- the rest can be verified.
CREATE TABLE audit_purges (
    id             bigserial PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT now(),
    checkpoint_id  bigint NOT NULL REFERENCES audit_checkpoints (id),
    flows          bigint NOT NULL,
    transitions    bigint NOT NULL
);
